"""Write ``masking_set.jsonl``: the labelled personal-data set (run once; the output is committed).

    .venv/bin/python -m tests.agents.privacy.build_masking_set

Every value is made up: ID numbers carry a valid GB 11643-1999 check character and a real birth
date, card numbers a valid Luhn digit, computed here independently of ``agents/privacy``. Texts
are written with inline marks ``«kind|value»``; a value starting with ``$`` is generated
(``$ID:4-4-4-4-2`` a valid ID in those groups, ``$CARD:4-4-4-4`` a card number, ``$IDLUHN`` an ID
whose 18 digits also pass Luhn). The marks become spans (kind, start, end) in the output.

Two parts: hand-written texts (``HAND``, each written on its own) and generated ones (fragments
of hotline tickets, petition letters, case records and notices combined with varied values and
writings); plus texts without any personal data that are full of numbers and place names.
"""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

from .generated_texts import clean_texts, generated_texts
from .hand_texts import CLEAN_HAND, HAND

OUT = Path(__file__).with_name("masking_set.jsonl")
KIND = {"id": "id_card", "mob": "mobile", "tel": "landline", "card": "bank_card", "mail": "email",
        "plate": "plate", "addr": "address"}  # fmt: skip

rng = random.Random(20261203)

# --------------------------------------------------------------------------- values

_W = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
REGIONS = ["110101", "110105", "120103", "130102", "140105", "150102", "210102", "220104", "230103", "310104",
           "310115", "320106", "330106", "340104", "350203", "360102", "370202", "410105", "420106", "430104",
           "440305", "440106", "450103", "460105", "500103", "500112", "510104", "510107", "510122", "511102",
           "520102", "530102", "540102", "610113", "620102", "630102", "640104", "650102"]  # fmt: skip


def id_check(first17: str) -> str:
    return "10X98765432"[sum(int(d) * w for d, w in zip(first17, _W, strict=True)) % 11]


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch) * (2 if i % 2 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


def make_id(want_x: bool | None = None, want_luhn: bool = False) -> str:
    while True:
        year = rng.randint(1938, 2012)
        first17 = (
            f"{rng.choice(REGIONS)}{year}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}{rng.randint(0, 999):03d}"
        )
        number = first17 + id_check(first17)
        if want_x is not None and number.endswith("X") != want_x:
            continue
        if want_luhn and not (number.isdigit() and luhn_ok(number)):
            continue
        return number


CARD_PREFIXES = ["622202", "621700", "622848", "621661", "622588", "623058", "621226", "622700", "436742",
                 "518710", "621483", "622908", "625965", "620522", "955880", "622609"]  # fmt: skip


def make_card(length: int | None = None) -> str:
    length = length or rng.choice([16, 19, 19, 16, 17, 18])
    body = rng.choice(CARD_PREFIXES) + "".join(str(rng.randint(0, 9)) for _ in range(length - 7))
    return next(body + d for d in "0123456789" if luhn_ok(body + d))


def group(number: str, sizes: str, sep: str = " ") -> str:
    parts, pos = [], 0
    for size in map(int, sizes.split("-")):
        parts.append(number[pos : pos + size])
        pos += size
    if pos < len(number):
        parts.append(number[pos:])
    return sep.join(parts)


def fullwidth(text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if c.isascii() and c.isalnum() else c for c in text)


def write_id(number: str) -> str:
    style = rng.random()
    if style < 0.35:
        out = number
    elif style < 0.5:
        out = group(number, "6-8-4", rng.choice(" -"))
    elif style < 0.65:
        out = group(number, "4-4-4-4-2", rng.choice(["  ", " ", " ", "-"])[:1])
    elif style < 0.72:
        out = group(number, "3-3-4-4-4")
    elif style < 0.78:
        out = group(number, "6-4-4-4")
    elif style < 0.85:
        out = fullwidth(number)
    elif style < 0.9:
        out = number.lower()
    else:
        out = fullwidth(group(number, rng.choice(["6-8-4", "4-4-4-4-2"])))
    return out


MOBILE_PREFIXES = ["130", "131", "132", "133", "135", "136", "137", "138", "139", "150", "151", "152", "155",
                   "156", "157", "158", "159", "166", "170", "173", "176", "177", "178", "180", "181", "182",
                   "183", "185", "186", "187", "188", "189", "191", "193", "195", "198", "199"]  # fmt: skip


def make_mobile() -> str:
    number = rng.choice(MOBILE_PREFIXES) + "".join(str(rng.randint(0, 9)) for _ in range(8))
    style = rng.random()
    if style < 0.45:
        return number
    if style < 0.6:
        return group(number, "3-4-4")
    if style < 0.7:
        return group(number, "3-4-4", "-")
    if style < 0.76:
        return "+86 " + number
    if style < 0.8:
        return "+86-" + group(number, "3-4-4", "-")
    if style < 0.83:
        return "0086" + number
    if style < 0.86:
        return "(+86)" + number
    if style < 0.95:
        return fullwidth(number)
    return fullwidth(group(number, "3-4-4"))


AREAS = ["010", "020", "021", "022", "023", "024", "025", "027", "028", "029", "0755", "0571", "0512", "0731",
         "0871", "0591", "0531", "0371", "0451", "0431", "0311", "0351", "0471", "0898", "0851", "0931", "0769",
         "0757", "0816", "0833", "0513", "0574"]  # fmt: skip


def make_landline() -> str:
    area = rng.choice(AREAS)
    local_len = 8 if len(area) == 3 or rng.random() < 0.6 else 7
    local = str(rng.randint(2, 8)) + "".join(str(rng.randint(0, 9)) for _ in range(local_len - 1))
    style = rng.random()
    if style < 0.45:
        out = f"{area}-{local}"
    elif style < 0.55:
        out = f"({area}){local}"
    elif style < 0.63:
        out = f"（{area}）{local}"
    elif style < 0.72:
        out = f"{area} {local}"
    elif style < 0.8:
        out = area + local
    elif style < 0.86:
        out = f"{area}-{local[:4]} {local[4:]}" if local_len == 8 else f"{area}-{local}"
    elif style < 0.93:
        out = fullwidth(f"{area}-{local}")
    else:
        out = f"{area}-{local}"
    if rng.random() < 0.15:
        out += rng.choice(["转", "-", " 转 ", "转分机"]) + str(rng.randint(100, 8999))
    return out


def write_card(number: str) -> str:
    style = rng.random()
    if style < 0.45:
        return number
    if style < 0.7:
        return group(number, "4-4-4-4")
    if style < 0.8:
        return group(number, "4-4-4-4", "-")
    if style < 0.9:
        return fullwidth(number)
    return fullwidth(group(number, "4-4-4-4"))


PINYIN = ["zhangwei", "wangfang", "li.na", "liuyang", "chenjing", "yang_li", "zhaolei", "huangmin", "zhouqiang",
          "wuxia", "xu.jun", "sunhao", "hu_yan", "zhuming", "gaofei", "lintao", "heping", "guoqing", "mayun88",
          "luoxin", "liang.chen", "songjia", "xiejie", "tangli"]  # fmt: skip
DOMAINS = ["qq.com", "163.com", "126.com", "sina.com", "foxmail.com", "gmail.com", "outlook.com", "139.com",
           "yeah.net", "sohu.com", "example.gov.cn", "mail.scu.edu.cn", "aliyun.com"]  # fmt: skip


def make_email() -> str:
    if rng.random() < 0.3:
        name = str(rng.randint(10000, 2999999999))
    else:
        name = rng.choice(PINYIN) + (str(rng.randint(1, 2025)) if rng.random() < 0.5 else "")
    out = f"{name}@{rng.choice(DOMAINS)}"
    return out.upper() if rng.random() < 0.05 else out


PLATE_PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"


def make_plate() -> str:
    head = rng.choice(PLATE_PROVINCES) + rng.choice("ABCDEFGHJKLM")
    style = rng.random()
    if style < 0.45:  # ordinary: five characters, at most two letters
        chars = [str(rng.randint(0, 9)) for _ in range(5)]
        for _ in range(rng.choice([0, 0, 1, 1, 2])):
            chars[rng.randint(0, 4)] = rng.choice(LETTERS)
        serial = "".join(chars)
    elif style < 0.7:  # new energy, small car: D/F then a letter or digit and four digits
        serial = rng.choice("DF") + rng.choice(LETTERS + "0123456789") + f"{rng.randint(0, 9999):04d}"
    elif style < 0.8:  # new energy, large vehicle: five digits then D/F
        serial = f"{rng.randint(0, 99999):05d}" + rng.choice("DF")
    elif style < 0.88:
        serial = f"{rng.randint(0, 9999):04d}" + rng.choice("挂学警")
    else:
        serial = f"{rng.randint(0, 9)}{rng.choice(LETTERS)}{rng.randint(0, 999):03d}"
    sep = rng.choice(["", "", "", "·", " ", "-"]) if serial[-1] not in "挂学警" else ""
    out = head + sep + serial
    return fullwidth(out) if rng.random() < 0.05 else out


# --------------------------------------------------------------------------- addresses

CITIES = [("四川省", "成都市", ["武侯区", "锦江区", "青羊区", "金牛区", "成华区", "高新区", "双流区", "郫都区"]),
          ("", "北京市", ["朝阳区", "海淀区", "丰台区", "西城区", "东城区", "通州区"]),
          ("", "上海市", ["浦东新区", "徐汇区", "静安区", "闵行区", "杨浦区"]),
          ("广东省", "深圳市", ["南山区", "福田区", "宝安区", "龙岗区"]),
          ("广东省", "广州市", ["天河区", "越秀区", "海珠区", "番禺区"]),
          ("浙江省", "杭州市", ["西湖区", "拱墅区", "余杭区", "滨江区"]),
          ("湖北省", "武汉市", ["武昌区", "洪山区", "江汉区"]),
          ("", "重庆市", ["渝中区", "江北区", "九龙坡区", "沙坪坝区"]),
          ("陕西省", "西安市", ["雁塔区", "碑林区", "未央区"]),
          ("江苏省", "南京市", ["鼓楼区", "玄武区", "江宁区"]),
          ("四川省", "绵阳市", ["涪城区", "游仙区"]),
          ("新疆维吾尔自治区", "乌鲁木齐市", ["天山区", "沙依巴克区"]),
          ("广西壮族自治区", "南宁市", ["青秀区", "兴宁区"])]  # fmt: skip
ROADS = ["人民南路", "人民北路", "红星路", "天府大道", "蜀都大道", "双龙大道", "建设路", "解放路", "中山东路",
         "科华北路", "一环路", "二环路", "光华大道", "长安街", "西大街", "建国路", "文化路", "学府路", "滨江东路",
         "东风路", "新华大街", "朝阳北路", "青年路", "和平里", "幸福街", "育才路", "金沙路", "站前路",
         "府青路", "玉林南路", "五一路", "桐梓林北路", "黄河路", "长江路"]  # fmt: skip
ROAD_SECTIONS = ["一段", "二段", "三段", "四段", "北段", "南段", "中段", "东段", "西段"]
ESTATES = ["翠苑", "金域华府", "阳光花园", "锦绣家园", "蓝光COCO金沙", "绿地世纪城", "万科城市花园", "保利心语",
           "龙湖时代天街", "和平里小区", "幸福小区", "碧桂园", "中海国际社区", "华润二十四城", "望江名门", "枫丹苑",
           "书香门第", "府河音乐花园", "长城金色港湾", "滨江丽景", "东湖新村", "水井坊小区", "盛世名城"]  # fmt: skip
COUNTIES = [("四川省", "成都市", "蒲江县", "鹤山镇", "飞虎村"), ("四川省", "眉山市", "仁寿县", "文林镇", "红花村"),
            ("河南省", "周口市", "商水县", "固墙镇", "孙庄村"), ("湖南省", "邵阳市", "隆回县", "桃洪镇", "新庄村"),
            ("贵州省", "遵义市", "湄潭县", "永兴镇", "茅坪村"), ("山东省", "临沂市", "沂水县", "许家湖镇", "东坡村"),
            ("江西省", "赣州市", "于都县", "贡江镇", "长征村"), ("甘肃省", "定西市", "陇西县", "首阳镇", "南门村")]  # fmt: skip
CN = "一二三四五六七八九十"


def cn(n: int) -> str:
    return CN[n - 1] if n <= 10 else "十" + CN[n - 11]


HUTONGS = ["南锣鼓巷", "东四十条", "帽儿胡同", "菊儿胡同", "西四北三条"]
LANES = ["宽巷子", "窄巷子", "井巷子", "奎星楼街", "泡桐树街"]


def make_village(numbered: bool = True) -> str:
    """A rural address; without a number it is only an address after a label (家住, 户籍地)."""
    province, city, county, town, village = rng.choice(COUNTIES)
    head = rng.choice([province + city + county, city + county, county, county, ""])
    tail = f"{cn(rng.randint(1, 12))}组" if numbered or rng.random() < 0.3 else ""
    if numbered and rng.random() < 0.5:
        tail += f"{rng.randint(1, 99)}号"
    return head + town + village + tail


def make_address() -> str:
    style = rng.random()
    if style < 0.1:
        _, city, districts = rng.choice(CITIES)
        head = rng.choice(["", city, rng.choice(districts), city + rng.choice(districts)])
        r = rng.random()
        if r < 0.3:  # Beijing: 院, 号楼, 门
            return (
                head
                + f"{rng.choice(ROADS)}{rng.randint(1, 99)}号院{rng.randint(1, 20)}号楼{rng.randint(1, 6)}门{rng.randint(1, 20)}{rng.randint(1, 4):02d}"
            )
        if r < 0.55:  # Shanghai: 弄
            return (
                head
                + f"{rng.choice(ROADS)}{rng.randint(1, 999)}弄{rng.randint(1, 60)}号{rng.randint(1, 6)}{rng.randint(1, 4):02d}室"
            )
        if r < 0.8:
            return (
                head
                + f"{rng.choice(LANES)}{rng.randint(1, 80)}号"
                + rng.choice(["", f"{rng.randint(1, 3)}楼", f"附{rng.randint(1, 9)}号"])
            )
        return rng.choice(["北京市东城区", "东城区", ""]) + f"{rng.choice(HUTONGS)}{rng.randint(1, 120)}号"
    if style < 0.78:
        province, city, districts = rng.choice(CITIES)
        head = ""
        r = rng.random()
        if r < 0.25:
            head = province + city + rng.choice(districts)
        elif r < 0.55:
            head = city + rng.choice(districts)
        elif r < 0.8:
            head = rng.choice(districts)
        road = rng.choice(ROADS)
        if rng.random() < 0.35 and road[-1] != "里":  # no 里 comes in sections
            road += rng.choice(ROAD_SECTIONS)
        house = f"{rng.randint(1, 999)}号"
        if rng.random() < 0.1:
            house = f"{rng.randint(1, 300)}-{rng.randint(1, 20)}号"
        tail = ""
        t = rng.random()
        if t < 0.3:
            tail = rng.choice(ESTATES) + rng.choice(["", f"{cn(rng.randint(1, 5))}期", f"{cn(rng.randint(1, 4))}区"])
            tail += f"{rng.randint(1, 40)}" + rng.choice(["栋", "幢", "号楼", "栋"])
            if rng.random() < 0.7:
                tail += f"{rng.randint(1, 6)}单元"
            tail += f"{rng.randint(1, 33)}{rng.randint(1, 12):02d}" + rng.choice(["室", "号", "室", ""])
        elif t < 0.5:
            tail = f"{rng.randint(1, 30)}栋{rng.randint(1, 4)}单元{rng.randint(1, 30)}{rng.randint(1, 8):02d}室"
        elif t < 0.6:
            tail = f"附{rng.randint(1, 20)}号" if rng.random() < 0.5 else f"{rng.randint(1, 5)}楼"
        elif t < 0.7:
            tail = rng.choice(ESTATES) + f"{rng.randint(1, 30)}号楼"
        elif t < 0.75:
            tail = f"{rng.randint(1, 9)}-{rng.randint(1, 6)}-{rng.randint(1, 30)}{rng.randint(1, 4):02d}"
        address = head + road + house + tail
    elif style < 0.9:
        address = make_village()
    else:
        _, city, districts = rng.choice(CITIES)
        estate = rng.choice(["阳光小区", "幸福小区", "和平里小区", "东湖新村", "锦绣家园", "碧水花园", "枫丹苑"])
        address = (
            rng.choice(["", city, rng.choice(districts)])
            + estate
            + f"{rng.randint(1, 30)}栋{rng.randint(1, 4)}单元{rng.randint(1, 30)}{rng.randint(1, 4):02d}室"
        )
    return fullwidth_digits(address) if rng.random() < 0.07 else address


def fullwidth_digits(text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "0" <= c <= "9" else c for c in text)


def gen_value(directive: str) -> str:
    name, _, sizes = directive[1:].partition(":")
    if name == "ID":
        number = make_id()
    elif name == "IDX":
        number = make_id(want_x=True)
    elif name == "IDLUHN":
        number = make_id(want_luhn=True)
    elif name == "CARD":
        number = make_card(19 if sizes.count("-") == 4 else 16 if sizes else None)
    else:
        raise ValueError(directive)
    if sizes == "fw":
        return fullwidth(number)
    return group(number, sizes, " ") if sizes else number


# --------------------------------------------------------------------------- marks -> spans

_MARK = re.compile(r"«(\w+)\|([^«»]+)»")


def resolve(marked: str) -> tuple[str, list[dict]]:
    text, spans, pos = [], [], 0
    length = 0
    for m in _MARK.finditer(marked):
        text.append(marked[pos : m.start()])
        length += m.start() - pos
        value = m.group(2)
        if value.startswith("$"):
            sep = " "
            if value.endswith("/-"):
                value, sep = value[:-2], "-"
            value = gen_value(value).replace(" ", sep)
        elif value == "@mob":
            value = make_mobile()
        elif value == "@tel":
            value = make_landline()
        elif value == "@mail":
            value = make_email()
        elif value == "@plate":
            value = make_plate()
        elif value == "@addr":
            value = make_address()
        elif value == "@village":
            value = make_village(numbered=False)
        elif value == "@id":
            value = write_id(make_id())
        elif value == "@card":
            value = write_card(make_card())
        spans.append({"kind": KIND[m.group(1)], "start": length, "end": length + len(value), "value": value})
        text.append(value)
        length += len(value)
        pos = m.end()
    text.append(marked[pos:])
    return "".join(text), spans


def main() -> None:
    rows = []
    for genre, marked in HAND:
        text, spans = resolve(marked)
        rows.append({"source": "hand", "genre": genre, "text": text, "spans": spans})
    for text in CLEAN_HAND:
        rows.append({"source": "hand", "genre": "clean", "text": text, "spans": []})
    for genre, marked in generated_texts(rng, 240):
        text, spans = resolve(marked)
        rows.append({"source": "generated", "genre": genre, "text": text, "spans": spans})
    for text in clean_texts(rng, 50):
        rows.append({"source": "generated", "genre": "clean", "text": text, "spans": []})
    with OUT.open("w", encoding="utf-8") as fh:
        for i, row in enumerate(rows, 1):
            fh.write(json.dumps({"id": i, **row}, ensure_ascii=False) + "\n")
    print(f"{len(rows)} texts -> {OUT}")


if __name__ == "__main__":
    main()
