"""LLM engines behind one interface (base.Backend): llama.cpp, OpenAI-compatible servers, vLLM."""
