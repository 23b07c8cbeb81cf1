"""Synthetic Chinese web pages with known main text, for ``html_extract_quality.py``.

Real article text (SogouCS news, CLUECorpusSmall, CMRC 2018 / DRCD Wikipedia paragraphs from
``web/`` of the DEV data folder; read at run time, not copied) is wrapped in page templates
modelled on Chinese portals, WeChat articles, Discuz-style forums, wiki pages and bare mobile
pages: nav bars, breadcrumbs, share bars, related-link lists (THUCNews headlines), comment
sections (Douban book reviews), footers with 版权所有 / ICP备案号. Traditional (DRCD) pages get
boilerplate run through OpenCC's STCharacters table. Each page is then encoded under one
labelling scenario.
"""

from __future__ import annotations

import html
import json
import random
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Page:
    """``body``: the raw bytes served; ``html``: the page as written; ``paras``: its main text."""

    name: str
    template: str
    scenario: str
    title: str
    paras: list[str]
    html: str
    body: bytes
    http_charset: str | None
    true_codec: str


def _rows(data: Path, name: str) -> list[dict]:
    with open(data / "web" / name, encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def _split(text: str, rng: random.Random) -> list[str]:
    """Sentences (ending in 。！？) grouped 2-4 per paragraph."""
    sents = [s for s in re.split(r"(?<=[。！？])", text.strip()) if s.strip()]
    paras, i = [], 0
    while i < len(sents):
        k = rng.randint(2, 4)
        paras.append("".join(sents[i : i + k]).strip())
        i += k
    return [p for p in paras if p]


def articles(data: Path, rng: random.Random, per_source: int) -> list[tuple[str, list[str], bool]]:
    """(title, paragraphs, traditional?) from four real sources of ``data/web``, ``per_source``
    each."""
    out = []
    news = [r for r in _rows(data, "sogoucs_smarty_sample.jsonl") if len(r["text"]) >= 300]
    out += [(r["meta"]["title"], _split(r["text"], rng), False) for r in news[:per_source]]
    heads = [r["text"] for r in _rows(data, "thucnews_titles.jsonl")]
    clue = [
        r["text"] for r in _rows(data, "clue_corpus_small_sample.jsonl") if len(r["text"]) >= 400
    ]
    out += [(heads[-1 - i], _split(t, rng), False) for i, t in enumerate(clue[:per_source])]
    wiki = [r for r in _rows(data, "wiki_zh_cmrc2018_paragraphs.jsonl") if len(r["text"]) >= 400]
    out += [(r["meta"]["title"], _split(r["text"], rng), False) for r in wiki[:per_source]]
    by_title: dict[str, list[str]] = {}
    for r in _rows(data, "wiki_zh_tw_drcd_paragraphs.jsonl"):
        by_title.setdefault(r["meta"]["title"], []).append(r["text"])
    trad = [(t, ps[:3]) for t, ps in by_title.items() if len(ps) >= 2][:per_source]
    out += [(t, ps, True) for t, ps in trad]
    return [a for a in out if len(a[1]) >= 2]


class Noise:
    """Boilerplate pools: headlines, short comments, a simplified->traditional char map."""

    def __init__(self, data: Path) -> None:
        self.heads = [r["text"] for r in _rows(data, "thucnews_titles.jsonl")][:3000]
        self.comments = [
            r["text"]
            for r in _rows(data, "reviews_douban_book.jsonl")
            if 10 <= len(r["text"]) <= 120
        ][:3000]
        with open(data / "lexicons" / "opencc_dictionaries.jsonl", encoding="utf-8") as f:
            rows = [json.loads(line) for line in f]
        self.s2t = {
            r["src"]: r["tgt"][0]
            for r in rows
            if r["dict"] == "STCharacters" and len(r["src"]) == 1
        }

    def pick(self, pool: list[str], rng: random.Random, k: int, trad: bool) -> list[str]:
        items = rng.sample(pool, k)
        return [self.t(x) for x in items] if trad else items

    def t(self, text: str) -> str:
        return "".join(self.s2t.get(ch, ch) for ch in text)


E = html.escape
NAV = "首页 新闻 国内 国际 财经 科技 体育 娱乐 汽车 房产 教育 旅游 视频 图片".split()
FOOT = (
    "关于我们 | 联系我们 | 广告服务 | 网站地图 | 招聘信息 | 法律声明",
    "版权所有 © 2012 {site} 未经授权禁止转载",
    "京ICP备{icp}号 京公网安备11010502000{icp2}号 违法和不良信息举报电话：010-8888{icp2}",
)


def _assets(rng: random.Random) -> str:
    """Head scripts and styles (about 10 kB, no visible text), as real pages carry."""
    js = "".join(
        f"function f{k}(a,b){{var c=document.getElementById('m{k}');"
        f"if(c){{c.style.display=a?'block':'none';}}return b*{rng.randint(2, 99)};}}"
        for k in range(60)
    )
    css = "".join(f".c{k}{{margin:{k}px;padding:0 {k % 7}px;color:#{k:03d}}}" for k in range(150))
    links = "".join(
        f'<link rel="stylesheet" href="//static.example.cn/css/s{k}.css">' for k in range(6)
    )
    return f"{links}<script>{js}</script><style>{css}</style>"


def _links(items: list[str]) -> str:
    return "".join(f'<li><a href="/n/{i}.shtml">{E(x)}</a></li>' for i, x in enumerate(items))


def _ps(paras: list[str]) -> str:
    return "".join(f"<p>{E(p)}</p>" for p in paras)


def portal(title: str, paras: list[str], nz: dict, rng: random.Random) -> str:
    site = rng.choice(["南方网", "新民网", "中国甘肃网", "搜狐新闻", "东方网"])
    icp, icp2 = rng.randint(10**7, 10**8), rng.randint(10, 99)
    foot = "".join(f"<p>{E(x.format(site=site, icp=icp, icp2=icp2))}</p>" for x in FOOT)
    coms = "".join(
        f'<div class="cmt"><span class="user">网友{rng.randint(1000, 9999)}</span>'
        f'<p>{E(c)}</p><a href="#">回复</a> <a href="#">顶(12)</a></div>'
        for c in nz["comments"][:5]
    )
    return f"""<!DOCTYPE html><html><head>{{META}}<title>{E(title)}_{site}</title>
<script>var _hmt=_hmt||[];(function(){{var hm=document.createElement("script");}})();</script>
<style>.nav li{{float:left}}</style></head><body>
<div class="top"><a href="/">{site}</a> <a href="/login">登录</a> <a href="/reg">注册</a></div>
<ul class="nav">{_links(NAV)}</ul>
<div class="mega" style="display:none"><ul>{_links(nz["heads"][20:60])}</ul></div>
<div class="crumb"><a href="/">首页</a> &gt; <a href="/news">新闻</a> &gt; 正文</div>
<div class="main"><div class="article"><h1>{E(title)}</h1>
<div class="info">2012年07月06日 08:12　来源：{site}　编辑：王{rng.choice("明芳伟静")}</div>
<div id="artibody">{_ps(paras)}</div>
<div class="share">分享到：新浪微博 腾讯微博 QQ空间 人人网 微信</div>
<div class="related"><h3>相关阅读</h3><ul>{_links(nz["heads"][:6])}</ul></div>
<div class="comments"><h3>网友评论</h3>{coms}<p>已有{rng.randint(10, 999)}人参与</p></div></div>
<div class="side"><h3>热点排行</h3><ol>{_links(nz["heads"][6:16])}</ol>
<h3>图片新闻</h3><ul>{_links(nz["heads"][16:20])}</ul></div></div>
<div class="footer">{foot}</div></body></html>"""


def wechat(title: str, paras: list[str], nz: dict, rng: random.Random) -> str:
    body = "".join(
        f'<p style="line-height:1.75em;"><span style="font-size:15px;">{E(p)}</span></p>'
        for p in paras
    )
    coms = "".join(
        f'<li class="discuss_item"><div class="nickname">读者{i}</div>'
        f'<div class="discuss_message">{E(c)}</div>'
        f"<span>赞 {rng.randint(1, 99)}</span></li>"
        for i, c in enumerate(nz["comments"][:4])
    )
    return f"""<!DOCTYPE html><html><head>{{META}}<title>{E(title)}</title></head><body>
<div id="js_article" class="rich_media">
<h2 class="rich_media_title" id="activity-name">{E(title)}</h2>
<div class="rich_media_meta_list"><span>原创</span> <a id="js_name">每日观察</a>
<em>2023-05-12 07:30</em></div><div class="rich_media_content" id="js_content">
<section><p><span>点击上方蓝字关注我们</span></p></section>
<section>{body}</section><section><p>- END -</p><p>长按识别二维码关注</p>
<p>喜欢就点个“在看”吧</p></section></div>
<div class="rich_media_tool"><a id="js_view_source">阅读原文</a>
阅读 {rng.randint(1000, 99999)} 在看 {rng.randint(1, 99)}</div>
<div class="read_more"><h3>喜欢此内容的人还喜欢</h3><ul>{_links(nz["heads"][:4])}</ul></div>
<div class="discuss_container"><h3>精选留言</h3><ul>{coms}</ul></div></div></body></html>"""


def forum(title: str, paras: list[str], nz: dict, rng: random.Random) -> str:
    def post(floor: str, user: str, content: str) -> str:
        return (
            f'<table class="plhin"><tr><td class="pls"><a class="xw1">{user}</a>'
            f"<p>积分 {rng.randint(10, 9999)}</p><p>帖子 {rng.randint(1, 500)}</p></td>"
            f'<td class="plc"><div class="pi"><strong>{floor}</strong>'
            f" 发表于 2013-3-{rng.randint(1, 28)} 10:{rng.randint(10, 59)} | 只看该作者</div>"
            f'<div class="t_fsz"><td class="t_f">{content}</td></div>'
            f'<div class="po">回复 引用 举报</div></td></tr></table>'
        )

    first = post("楼主", "老王", "<br />\n".join(E(p) for p in paras))
    replies = "".join(
        post(f"{i + 2}#", f"用户{rng.randint(100, 999)}", E(c))
        for i, c in enumerate(nz["comments"][:6])
    )
    return f"""<html><head>{{META}}<title>{E(title)} - 综合讨论区 - 天涯社区</title></head><body>
<div id="hd"><a href="/">论坛首页</a> | <a href="/member.php?mod=register">立即注册</a>
| 找回密码</div><div id="pt"><a href="./">论坛</a> <em>&rsaquo;</em>
<a href="/f-2">综合讨论区</a> <em>&rsaquo;</em> 正文</div>
<div id="postlist"><h1><span id="thread_subject">{E(title)}</span></h1>
<div>查看: {rng.randint(100, 99999)} | 回复: {rng.randint(1, 300)}</div>{first}{replies}</div>
<div class="pgs">上一页 1 2 3 下一页 返回列表 发新帖</div>
<div id="ft">Powered by Discuz! X3.4 &copy; 2001-2013 Comsenz Inc.
粤ICP备{rng.randint(10**7, 10**8)}号</div>
</body></html>"""


def wiki(title: str, paras: list[str], nz: dict, rng: random.Random) -> str:
    secs = "".join(
        f'<h2><span class="mw-headline">{"概述" if i == 0 else "历史"}</span>'
        f'<span class="mw-editsection">[编辑]</span></h2>' * (i in (0, 1)) + f"<p>{E(p)}</p>"
        for i, p in enumerate(paras)
    )
    return f"""<!DOCTYPE html><html><head>{{META}}
<title>{E(title)} - 维基百科，自由的百科全书</title></head>
<body><div id="mw-navigation"><ul><li>首页</li><li>分类索引</li><li>特色内容</li><li>新闻动态</li>
<li>随机条目</li></ul><h3>工具</h3><ul><li>链入页面</li><li>相关更改</li><li>上传文件</li></ul></div>
<div id="content"><h1 id="firstHeading">{E(title)}</h1>
<div id="siteSub">维基百科，自由的百科全书</div>
<div id="toc"><h2>目录</h2><ul><li>1 概述</li><li>2 历史</li><li>3 参见</li></ul></div>
<div id="mw-content-text">{secs}<h2>参见</h2><ul>{_links(nz["heads"][:5])}</ul></div>
<div id="catlinks">分类：{"、".join(nz["heads"][5:7])}</div></div>
<div id="footer">本页面最后修订于2012年7月6日 (星期五) 08:12。
本站的全部文字在知识共享 署名-相同方式共享 3.0协议之条款下提供。
隐私政策 关于维基百科 免责声明</div></body></html>"""


def mobile(title: str, paras: list[str], nz: dict, rng: random.Random) -> str:
    return f"""<html><head>{{META}}<meta name="viewport" content="width=device-width">
<title>{E(title)}</title></head>
<body><div class="header">手机网 | 返回首页 | 频道</div><div class="title">{E(title)}</div>
<div class="src">来源：手机网 {rng.randint(1, 12)}月{rng.randint(1, 28)}日</div>
<div class="content">{"<br><br>".join(E(p) for p in paras)}</div>
<div class="more">更多精彩内容，请下载客户端 &gt;&gt;</div>
<div class="hot">{"<br>".join(E(h) for h in nz["heads"][:8])}</div>
<div class="foot">电脑版 | 触屏版 | 意见反馈<br>Copyright &copy; 手机网 版权所有</div>
</body></html>"""


TEMPLATES: dict[str, Callable[..., str]] = {
    "portal": portal,
    "wechat": wechat,
    "forum": forum,
    "wiki": wiki,
    "mobile": mobile,
}

#: (scenario, bytes codec, HTTP charset label, meta charset label, meta form). Mislabelled
#: scenarios name the real codec first, then the wrong label.
SIMP = [
    ("utf8-header", "utf-8", "utf-8", None),
    ("utf8-meta", "utf-8", None, "utf-8"),
    ("gbk-meta", "gbk", None, "gb2312"),
    ("gbk-header", "gbk", "GBK", None),
    ("gb18030-meta", "gb18030", None, "gb18030"),
    ("gbk-none", "gbk", None, None),
    ("gbk-labelled-utf8", "gbk", None, "utf-8"),
    ("gbk-labelled-latin1", "gbk", "ISO-8859-1", None),
    ("utf8-labelled-gbk", "utf-8", None, "gbk"),
]
TRAD = [
    ("big5-header", "big5", "big5", None),
    ("big5-meta", "big5", None, "big5"),
    ("big5-none", "big5", None, None),
    ("big5-labelled-gb2312", "big5", None, "gb2312"),
    ("utf8-meta-trad", "utf-8", None, "utf-8"),
]


def build(data: Path, per_source: int = 40, seed: int = 7) -> list[Page]:
    """The benchmark corpus from the DEV data folder ``data``: every article once, template and
    scenario chosen round-robin."""
    rng = random.Random(seed)
    noise = Noise(data)
    pages = []
    for i, (title, paras, trad) in enumerate(articles(data, rng, per_source)):
        scens = TRAD if trad else SIMP
        tname = list(TEMPLATES)[i % len(TEMPLATES)]
        scen, codec, http_label, meta_label = scens[(i // len(TEMPLATES) + i) % len(scens)]
        nz = {
            "heads": noise.pick(noise.heads, rng, 60, trad),
            "comments": noise.pick(noise.comments, rng, 6, trad),
        }
        meta = ""
        if meta_label:
            meta = (
                f'<meta charset="{meta_label}">'
                if i % 2
                else f'<meta http-equiv="Content-Type" content="text/html; charset={meta_label}">'
            )
        page = TEMPLATES[tname](title, paras, nz, rng).replace("{META}", meta + _assets(rng))
        body = page.encode(codec, errors="xmlcharrefreplace")
        true_codec = {"gbk": "gb18030", "big5": "big5hkscs"}.get(codec, codec)
        pages.append(
            Page(
                f"{i:03d}",
                tname,
                scen,
                title,
                paras,
                body.decode(true_codec),
                body,
                http_label,
                true_codec,
            )
        )
    return pages
