"""WARC/WET readers, charset decoding and main-text extraction on Chinese pages."""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import random
from pathlib import Path

import pytest

from pipeline.io.base import READERS, InputOptions, SourceRecord
from pipeline.io.html import codec_for_label, decode_html, extract_main_text, meta_charset
from pipeline.io.web import read_warc

FIX = Path(__file__).parent / "fixtures" / "web"
_spec = importlib.util.spec_from_file_location("web_fixtures", FIX / "make_fixtures.py")
fx = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fx)


def read(path: Path, opts: InputOptions | None = None) -> tuple[list[SourceRecord], bytes]:
    """All records of a file and the bytes its byte_sink received."""
    chunks: list[bytes] = []
    return list(read_warc(path, opts or InputOptions(), chunks.append)), b"".join(chunks)


def write(tmp_path: Path, data: bytes, name: str = "x.warc") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def main_text(name: str) -> str:
    return "\n".join(fx.PAGES[name][1])


def test_fixture_files_match_their_generator() -> None:
    assert (FIX / "sample.warc.gz").read_bytes() == b"".join(
        gzip.compress(r, mtime=0) for r in fx.sample_warc()
    )
    assert (FIX / "truncated.warc.gz").read_bytes() == fx.truncated_warc()
    assert (FIX / "sample.wet.gz").read_bytes() == b"".join(
        gzip.compress(r, mtime=0) for r in fx.sample_wet()
    )


def test_formats_registered() -> None:
    assert READERS["warc"] is read_warc and READERS["wet"] is read_warc


# line -> (page, url, encoding, encoding_source): GBK labelled only in <meta charset=gbk>; Big5
# labelled only in the HTTP header; GBK served as ISO-8859-1; UTF-8 (gzip content-encoding)
# with <meta charset=gb2312>.
PAGES = [
    (3, "gbk_meta", "http://news.example.cn/tea.html", "gb18030", "meta"),
    (4, "big5_header", "http://news.example.tw/mrt.html", "big5hkscs", "http"),
    (6, "gbk_as_latin1", "http://lib.example.cn/news.html", "gb18030", "detected"),
    (7, "utf8_as_gb2312", "http://weather.example.cn/hot.html", "utf-8", "detected"),
]


@pytest.mark.parametrize("line,page,url,encoding,source", PAGES)
def test_warc_pages_text_and_meta(
    line: int, page: str, url: str, encoding: str, source: str
) -> None:
    rec = {r.line: r for r in read(FIX / "sample.warc.gz")[0]}[line]
    assert rec.error is None
    assert rec.text == main_text(page)
    assert rec.id == f"urn:uuid:{line:04d}"
    assert rec.meta == {
        "url": url,
        "date": "2024-03-01T08:00:00Z",
        "record_type": "response",
        "http_status": 200,
        "content_type": "text/html",
        "encoding": encoding,
        "encoding_source": source,
        "languages": None,
    }


ERRORS = [
    (8, "not HTML or text: content type application/pdf"),
    (9, "not HTML or text: content type image/png"),
    (10, "HTTP status 404, not a document"),
]


@pytest.mark.parametrize("line,error", ERRORS)
def test_warc_non_documents_are_error_records(line: int, error: str) -> None:
    rec = {r.line: r for r in read(FIX / "sample.warc.gz")[0]}[line]
    assert rec.error == error and rec.text is None and rec.id == f"urn:uuid:{line:04d}"


def test_warcinfo_request_metadata_are_skipped_and_sink_sees_every_byte() -> None:
    recs, seen = read(FIX / "sample.warc.gz")
    assert [r.line for r in recs] == [3, 4, 6, 7, 8, 9, 10]
    assert (
        hashlib.sha256(seen).digest()
        == hashlib.sha256((FIX / "sample.warc.gz").read_bytes()).digest()
    )


def test_uncompressed_warc_reads_the_same(tmp_path: Path) -> None:
    plain = write(tmp_path, gzip.decompress((FIX / "sample.warc.gz").read_bytes()))
    assert read(plain)[0] == read(FIX / "sample.warc.gz")[0]


def test_gzip_member_cut_off_is_a_truncated_record() -> None:
    recs, seen = read(FIX / "truncated.warc.gz")
    assert [r.line for r in recs] == [1, 2]
    assert recs[0].error is None and recs[0].text == main_text("gbk_meta")
    declared = len(
        fx.http_response(fx.page_html("big5_header").encode("big5"), "text/html; charset=big5")
    )
    got = recs[1].raw_bytes
    assert 0 < got < declared
    assert recs[1].error == f"truncated record: {got} of {declared} content bytes"
    assert seen == (FIX / "truncated.warc.gz").read_bytes()


def test_content_length_past_end_of_plain_file(tmp_path: Path) -> None:
    body = fx.http_response("<html><body><p>只有一半。</p></body></html>".encode(), "text/html")
    rec = fx.warc_record("response", "0001", body, "http://a.cn/", declared=len(body) + 500)
    recs, _ = read(write(tmp_path, rec))
    assert [(r.line, r.error) for r in recs] == [
        (1, f"truncated record: {len(body) + 4} of {len(body) + 500} content bytes")
    ]


def test_junk_between_records_is_skipped(tmp_path: Path) -> None:
    data = fx.sample_warc()[2] + b"this is not a WARC header\r\n\r\n" + fx.sample_warc()[3]
    recs, seen = read(write(tmp_path, data))
    assert [(r.line, r.text) for r in recs] == [
        (1, main_text("gbk_meta")),
        (2, main_text("big5_header")),
    ]
    assert seen == data


def test_broken_gzip_yields_one_error_and_drains_the_file(tmp_path: Path) -> None:
    good = gzip.compress(fx.sample_warc()[2], mtime=0)
    bad = bytearray(gzip.compress(fx.sample_warc()[3], mtime=0))
    bad[20:40] = bytes(20)
    data = good + bytes(bad) + gzip.compress(fx.sample_warc()[5], mtime=0)
    recs, seen = read(write(tmp_path, data, "x.warc.gz"))
    assert [r.line for r in recs] == [1, 2]
    assert recs[0].text == main_text("gbk_meta")
    assert recs[1].error.startswith("unreadable WARC data after record 1: ")
    assert seen == data


def test_record_over_max_bytes(tmp_path: Path) -> None:
    recs, _ = read(FIX / "sample.warc.gz", InputOptions(max_bytes=1000))
    by_line = {r.line: r for r in recs}
    assert by_line[3].error == "record of 1313 bytes exceeds max_bytes"
    assert by_line[3].raw_bytes == 1313
    assert by_line[7].error is None  # 964 bytes
    assert by_line[7].text == main_text("utf8_as_gb2312")


def test_resource_record_unlabelled_gbk(tmp_path: Path) -> None:
    html = fx.page_html("gbk_as_latin1").encode("gbk")
    rec = fx.warc_record(
        "resource", "0001", html, "file:///lib.html", {"Content-Type": "text/html"}
    )
    [out], _ = read(write(tmp_path, rec))
    assert out.text == main_text("gbk_as_latin1")
    assert (out.meta["record_type"], out.meta["http_status"]) == ("resource", None)
    assert (out.meta["encoding"], out.meta["encoding_source"]) == ("gb18030", "detected")


_RNG = random.Random(3)


@pytest.mark.parametrize(
    "body,error",
    [
        (bytes(_RNG.randrange(256) for _ in range(600)), "undecodable: "),
        (b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 3, "undecodable: "),
        (
            b"<html><head><title>t</title><script>var a=1;</script></head><body></body></html>",
            "no main text found in HTML",
        ),
    ],
    ids=["random-bytes", "png-as-html", "script-only"],
)
def test_bad_html_payloads(tmp_path: Path, body: bytes, error: str) -> None:
    rec = fx.response("0001", "http://a.cn/", body, "text/html")
    [out], _ = read(write(tmp_path, rec))
    assert out.error.startswith(error) and out.text is None


def test_wet_records() -> None:
    recs, seen = read(FIX / "sample.wet.gz")
    assert [(r.line, r.id, r.text) for r in recs] == [
        (2, "urn:uuid:w002", fx.WET_TEXTS[0]),
        (3, "urn:uuid:w003", fx.WET_TEXTS[1]),
    ]
    assert recs[0].meta == {
        "url": "http://blog.example.cn/0",
        "date": "2024-03-01T08:00:00Z",
        "record_type": "conversion",
        "http_status": None,
        "content_type": "text/plain",
        "encoding": "utf-8",
        "encoding_source": "wet",
        "languages": "zho",
    }
    assert seen == (FIX / "sample.wet.gz").read_bytes()


@pytest.mark.parametrize("compressed", [True, False])
def test_corrupted_files_never_raise(tmp_path: Path, compressed: bool) -> None:
    """Cut, bit-flipped and spliced copies: every record is text or an error, every byte sunk."""
    src = (FIX / "sample.warc.gz").read_bytes()
    src = src if compressed else gzip.decompress(src)
    rng = random.Random(11)
    for trial in range(45):
        data = bytearray(src)
        if trial % 3 == 0:
            data = data[: rng.randrange(len(data))]
        elif trial % 3 == 1:
            for _ in range(5):
                data[rng.randrange(len(data))] = rng.randrange(256)
        else:
            cut = rng.randrange(len(data))
            data = data[:cut] + data[cut + rng.randrange(1, 200) :]
        recs, seen = read(write(tmp_path, bytes(data)))
        assert seen == bytes(data)
        for r in recs:
            assert r.error or (isinstance(r.text, str) and r.text.strip()), (trial, r)


LABELS = [
    ("gb2312", "gb18030"),
    ("GBK", "gb18030"),
    ("x-gbk", "gb18030"),
    ("cp936", "gb18030"),
    ("GB18030", "gb18030"),
    ("big5", "big5hkscs"),
    ("Big5-HKSCS", "big5hkscs"),
    ("utf8", "utf-8"),
    ("UTF-8", "utf-8"),
    ("iso-8859-1", "cp1252"),
    ("'gbk'", "gb18030"),
    ("no-such-charset", None),
    (None, None),
]


@pytest.mark.parametrize("label,codec", LABELS)
def test_codec_for_label(label: str | None, codec: str | None) -> None:
    assert codec_for_label(label) == codec


@pytest.mark.parametrize(
    "head,label",
    [
        (b'<meta charset="gbk">', "gbk"),
        (b"<META CHARSET=big5>", "big5"),
        (b"<meta http-equiv='Content-Type' content='text/html; charset=gb2312'>", "gb2312"),
        ('<meta name="keywords" content="新闻"><title>x</title>'.encode(), None),
    ],
)
def test_meta_charset(head: bytes, label: str | None) -> None:
    assert meta_charset(b"<html><head>" + head + b"</head></html>") == label


TEA = "每年清明节前后，杭州西湖周边的茶农便开始采摘龙井茶。明前茶芽叶细嫩，产量很少，价格也最高。"
MRT = "臺北捷運環狀線第一階段今日正式通車，全線共設十四座車站，串聯新北市多個行政區。"
# GB2312 has neither 镕 nor 喆; 𠮷 needs a GB18030 four-byte sequence.
RARE = "朱镕基和陶喆都出现在这篇报道里，𠮷野家的招牌也是。"


def page(text: str, meta: str = "") -> str:
    return f"<html><head>{meta}<title>新聞</title></head><body><p>{text}</p></body></html>"


DECODE = [  # (page, bytes codec, HTTP charset, expected codec, expected source)
    (page(TEA, '<meta charset="gbk">'), "gbk", None, "gb18030", "meta"),
    (page(TEA), "gbk", "gb2312", "gb18030", "http"),
    (page(TEA), "gbk", None, "gb18030", "detected"),
    (page(TEA), "gbk", "iso-8859-1", "gb18030", "detected"),
    (page(TEA, '<meta charset="utf-8">'), "gbk", None, "gb18030", "detected"),
    (page(RARE, '<meta charset="gb2312">'), "gb18030", None, "gb18030", "meta"),
    (page(MRT), "big5", "big5", "big5hkscs", "http"),
    (page(MRT, '<meta charset="gb2312">'), "big5", None, "big5hkscs", "detected"),
    (page(TEA, '<meta charset="gbk">'), "utf-8", None, "utf-8", "detected"),
    (page(TEA), "utf-8", "utf-8", "utf-8", "http"),
    (page(TEA, '<meta charset="gbk">'), "utf-8-sig", None, "utf-8", "bom"),
]


@pytest.mark.parametrize("html,codec,http,encoding,source", DECODE)
def test_decode_html(html: str, codec: str, http: str | None, encoding: str, source: str) -> None:
    got = decode_html(html.encode(codec), http)
    assert (got.text, got.encoding, got.source, got.replaced) == (html, encoding, source, 0)


def test_decode_utf8_page_with_one_stray_byte() -> None:
    html = page(TEA * 3, '<meta charset="utf-8">')
    data = html.encode()
    cut = data.index("龙".encode())
    got = decode_html(data[:cut] + b"\xff" + data[cut:], None)
    assert (got.encoding, got.source, got.replaced) == ("utf-8", "meta", 1)
    assert got.text.replace("\ufffd", "") == html


def test_extract_main_text_drops_page_chrome() -> None:
    assert extract_main_text(fx.page_html("gbk_meta")) == main_text("gbk_meta")
    assert extract_main_text(fx.page_html("big5_header")) == main_text("big5_header")
