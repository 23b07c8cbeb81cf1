"""Stage ``pii``: exact masked text for Chinese sentences, including near misses."""

from __future__ import annotations

import pytest

from filters.pii import PLACEHOLDERS, Pii, id_card_valid, luhn_valid
from pipeline.record import Doc

KINDS = {"phone", "id_card", "bank_card", "email", "ip", "qq", "wechat"}


def run(text: str, **params: object) -> Doc:
    doc = Doc(id="t", text=text)
    Pii(**params).process([doc])  # type: ignore[arg-type]
    return doc


@pytest.mark.parametrize(
    ("text", "masked", "kind", "n"),
    [
        # mobile phones: plain, 3-4-4, +86 / 86- / (+86) prefixes
        ("我的手机号是13812345678，有事打我。", "我的手机号是<PHONE>，有事打我。", "phone", 1),
        ("联系电话：138-1234-5678 或 159 8765 4321", "联系电话：<PHONE> 或 <PHONE>", "phone", 2),
        ("国际拨打+86 13812345678，国内86-13912345678", "国际拨打<PHONE>，国内<PHONE>", "phone", 2),
        ("客服（+86）17712345678", "客服<PHONE>", "phone", 1),
        # resident IDs with a valid check character (X included)
        ("身份证号：11010519491231002X，请核对", "身份证号：<ID_CARD>，请核对", "id_card", 1),
        ("张三，身份证320102198511110025，住南京", "张三，身份证<ID_CARD>，住南京", "id_card", 1),
        # bank cards: Luhn-valid, 16 and 19 digits, grouped or plain
        ("请转账到工行卡6222021234567894。", "请转账到工行卡<BANK_CARD>。", "bank_card", 1),
        ("卡号：6217 0001 2345 6789 019", "卡号：<BANK_CARD>", "bank_card", 1),
        ("Visa 4367-4201-2345-6781 已绑定", "Visa <BANK_CARD> 已绑定", "bank_card", 1),
        # emails, IPs
        ("简历请发送至 hr.zhang@example.com.cn 谢谢", "简历请发送至 <EMAIL> 谢谢", "email", 1),
        ("服务器地址202.96.128.86，备用61.135.169.121。", "服务器地址<IP>，备用<IP>。", "ip", 2),
        # public IPv6 (full, compressed, China DNS 240c::6666), bracketed with a port
        ("我的地址是2408:8207:1851:5a40:1d2e:3f4a:5b6c:7d8e。", "我的地址是<IP>。", "ip", 1),
        ("公共DNS：240c::6666 和 2400:3200::1", "公共DNS：<IP> 和 <IP>", "ip", 2),
        ("访问 [2001:4860:4860::8888]:53 即可", "访问 [<IP>]:53 即可", "ip", 1),
        # an email whose domain is an IP literal is masked whole, local part included
        (
            "发信到 admin@123.123.123.123 或 root@[10.1.2.3]",
            "发信到 <EMAIL> 或 <EMAIL>",
            "email",
            2,
        ),
        ("联系 user@[IPv6:2001:db8::1] 即可", "联系 <EMAIL> 即可", "email", 1),
        # QQ / WeChat only after an explicit prefix; only the id is masked
        ("有问题加QQ：12345678，或者qq号 876543210", "有问题加QQ：<QQ>，或者qq号 <QQ>", "qq", 2),
        ("欢迎加入QQ群：123456789交流", "欢迎加入QQ群：<QQ>交流", "qq", 1),
        ("加微信：abc_123 或 VX：Zhang-San88", "加微信：<WECHAT> 或 VX：<WECHAT>", "wechat", 2),
        ("微信号 zhangsan88 备注来意", "微信号 <WECHAT> 备注来意", "wechat", 1),
        # order: a QQ mailbox is an email, a WeChat "id" that is a phone is a phone
        ("QQ邮箱：12345678@qq.com", "QQ邮箱：<EMAIL>", "email", 1),
        ("微信同手机：13812345678", "微信同手机：<PHONE>", "phone", 1),
    ],
)
def test_masked(text: str, masked: str, kind: str, n: int) -> None:
    doc = run(text)
    assert doc.text == masked
    assert doc.stats[kind] == n
    assert sum(doc.stats.values()) == n  # nothing else was masked


@pytest.mark.parametrize(
    "text",
    [
        "身份证号440304199003071231有误",  # wrong check character (valid: ...123X)
        "编号110105194902301234",  # 2月30日 is no date of birth
        "卡号6222021234567895",  # Luhn-invalid
        "订单号2013812345678已发货",  # a phone number inside a longer digit run
        "流水号13812345678901",
        "138-1234 5678",  # mixed separators
        "发布于2023.10.01.12点",  # a dotted date, not an IP
        "请升级到v1.2.3.4，版本号：2.0.1.5",  # version numbers
        "坐标1.2.3.4.5",  # longer dotted run
        "见第6.2.3.1节，齿式3.1.4.2",  # four single digits: section, dental formula
        "192.168.1.256不是合法地址",  # octet > 255
        "我的号码是12345678，记一下",  # a QQ-like number without prefix
        "用微信 WeChat 支付很方便",  # a plain word after 微信 is not an id
        "@小明 你好，周末一起吃饭",  # a Weibo mention is not an email
        "人口约1400000000人，面积9600000平方公里",
        # private, loopback, link-local, shared and documentation addresses identify nobody
        "路由器登录192.168.1.1，账号admin",
        "内网10.0.0.254、172.16.8.1、127.0.0.1、169.254.12.34、100.64.0.1",
        "IPv6 本地 ::1、fe80::1ff:fe23:4567:890a、fd12:3456:789a::1，文档 2001:db8::1",
        # code and times are not IPv6 (no digit, too few groups, not an address)
        "C++ 里 CDC::Add 与 std::cout，比分 1::2，时间 12:30:45",
    ],
)
def test_near_misses_untouched(text: str) -> None:
    doc = run(text)
    assert doc.text == text
    assert sum(doc.stats.values()) == 0


def test_mixed_document_and_stats_keys() -> None:
    text = (
        "姓名：李四\n身份证：11010519491231002X\n手机：13912345678\n邮箱：lisi@163.com\n"
        "银行卡：6222021234567894\n登录IP：202.96.128.86\nQQ：10001\n微信：lisi_2024"
    )
    doc = run(text)
    assert doc.text == (
        "姓名：李四\n身份证：<ID_CARD>\n手机：<PHONE>\n邮箱：<EMAIL>\n"
        "银行卡：<BANK_CARD>\n登录IP：<IP>\nQQ：<QQ>\n微信：<WECHAT>"
    )
    assert doc.stats == dict.fromkeys(KINDS, 1)
    assert set(run("没有个人信息的句子。").stats) == KINDS == set(PLACEHOLDERS)


@pytest.mark.parametrize(
    ("ips", "masked", "n"),
    [
        ("public", "局域网192.168.1.1，外网<IP>，本机::1，公网<IP>", 2),
        ("all", "局域网<IP>，外网<IP>，本机<IP>，公网<IP>", 4),
        ("none", "局域网192.168.1.1，外网202.96.128.86，本机::1，公网2400:3200::1", 0),
    ],
)
def test_ips_option(ips: str, masked: str, n: int) -> None:
    doc = run("局域网192.168.1.1，外网202.96.128.86，本机::1，公网2400:3200::1", ips=ips)
    assert doc.text == masked
    assert doc.stats["ip"] == n


def test_ips_option_validated_and_fingerprinted() -> None:
    with pytest.raises(ValueError, match="ips must be"):
        Pii(ips="private")  # type: ignore[arg-type]
    assert Pii().fingerprint("x") != Pii(ips="all").fingerprint("x")
    assert Pii.version != "1"  # public-only default changed the output of version 1


@pytest.mark.parametrize(
    ("number", "ok"),
    [
        ("11010519491231002X", True),
        ("11010519491231002x", True),
        ("110105194912310021", False),
        ("99010519491231002X", False),
        ("110105194913310021", False),
    ],
)
def test_id_card_valid(number: str, ok: bool) -> None:
    assert id_card_valid(number) is ok


@pytest.mark.parametrize(
    ("digits", "ok"),
    [
        ("4111111111111111", True),
        ("4111111111111112", False),
        ("6222021234567894", True),
        ("79927398713", True),
        ("79927398710", False),
    ],
)
def test_luhn(digits: str, ok: bool) -> None:
    assert luhn_valid(digits) is ok
