"""Generated texts of the masking set: fragments of tickets, letters, records and notices with varied values.

Values are written as marks for ``build_masking_set.resolve`` (``«mob|@mob»`` a generated mobile
number in one of its writings, ``«id|@id»`` an ID, ``«id|$IDLUHN:4-4-4-4-2»`` ...). The noise
fragments put number-like and place-like content that is nobody's personal data beside them.
"""

from __future__ import annotations

import random

NAMES = ["张某", "王某某", "李女士", "刘先生", "陈某", "杨某", "赵女士", "黄某某", "周先生", "吴某", "徐女士", "孙某",
         "马某", "朱先生", "胡某", "郭女士", "何某某", "高某", "林先生", "罗某"]  # fmt: skip

ISSUES = ["楼上住户长期漏水，多次协调无果", "小区门口夜市占道经营，噪音扰民至凌晨", "物业擅自提高停车费", "工地夜间违规施工",
          "路灯损坏两个月无人维修", "餐馆油烟直排居民楼", "共享单车乱停放堵塞盲道", "公司拖欠工资三个月",
          "房东拒不退还押金", "培训机构关门无法退费", "小区电梯频繁困人", "燃气管道有异味", "垃圾清运不及时发臭",
          "学校周边有人售卖三无食品", "违章搭建影响采光", "下水道堵塞污水外溢", "广场舞音响声音过大",
          "网购商品质量问题商家拒绝退货", "医保报销迟迟未到账", "拆迁补偿款未足额发放"]  # fmt: skip

OPENERS = {
    "hotline": [
        "工单编号：{ticket}。",
        "【12345热线】{date}，",
        "来电时间：{date}；",
        "转办单号{ticket}，",
        "",
        "受理渠道：电话，",
        "工单（{ticket}）",
        "{date}，",
    ],
    "petition": ["信访事项受理告知：", "来信摘要：", "信访件编号{ticket}。", "", "网上信访（{date}）：", "来访登记："],
    "case": ["{docno}。", "案件编号：{caseno}，", "询问笔录（第1次）。", "现场检查笔录：", "", "立案审批表："],
    "notice": ["{org}公告（{date}）：", "公示名单：", "", "通知：", "领取通知："],
}
WHO = {
    "hotline": ["市民{name}来电反映", "来电人{name}称", "诉求人{name}反映", "{name}来电", "群众来电"],
    "petition": ["信访人{name}反映", "来信人{name}称", "来访人{name}", "反映人{name}"],
    "case": ["当事人{name}", "被检查人{name}", "证人{name}", "举报人{name}称", "被询问人{name}"],
    "notice": ["{name}", "申请人{name}", "补贴对象{name}"],
}
ID_LEADS = ["身份证号：", "身份证号码", "身份证", "公民身份号码：", "证件号码（身份证）", "身份证号为", "身份证：", "，身份证",
            "证件号"]  # fmt: skip
MOB_LEADS = [
    "联系电话：",
    "电话",
    "手机",
    "手机号码：",
    "联系方式",
    "回访电话：",
    "手机号",
    "来电号码",
    "，电话：",
    "联系人电话",
]
TEL_LEADS = ["座机", "办公电话：", "固定电话", "联系电话：", "家庭电话", "电话：", "单位电话"]
CARD_LEADS = ["银行卡号：", "银行卡", "收款账号", "卡号", "社保卡银行账号", "开户账号：", "退款账户"]
MAIL_LEADS = ["邮箱：", "电子邮箱", "邮箱", "E-mail：", "电子邮件地址为", "邮件发至"]
PLATE_LEADS = ["车牌号", "号牌", "车牌", "车辆号牌为", "机动车号牌：", "车牌号码"]
ADDR_LEADS = [
    "家住",
    "住址：",
    "现住",
    "住",
    "居住在",
    "户籍地址：",
    "送达地址：",
    "地址为",
    "经营地址：",
    "位于",
    "在",
]
PLACE_LABELS = ["家住", "户籍地：", "户籍所在地为", "现住", "住址：", "送达地址：", "居住在", "家庭住址："]
SEP = ["，", "，", "；", "。", " ", "，"]

# Number-like and place-like content that is nobody's personal data.
NOISE = [
    "办理时限{date2}前",
    "涉及金额{amount}元",
    "依据《{law}》第{art}条",
    "（{docno}）",
    "发票代码{invoice}",
    "发票号码{inv_no}",
    "统一社会信用代码{uscc}",
    "订单号{order}",
    "工号{staff}",
    "税号{uscc}",
    "合同编号{contract}",
    "受理时间{time}",
    "沿{road}一带",
    "转{org}办理",
    "已于{date2}回访",
    "快递单号{express}",
    "编号{code0}",
    "发票代码：{invoice}",
    "项目编号{project}",
    "案号{courtno}",
    "{road}改造工程预计{date2}完工",
    "按每月{amount}元标准",
    "诉求人希望在{date2}前答复",
]
LAWS = ["中华人民共和国行政处罚法", "物业管理条例", "四川省城乡规划条例", "中华人民共和国消费者权益保护法",
        "城市市容和环境卫生管理条例", "中华人民共和国劳动合同法", "保障农民工工资支付条例", "中华人民共和国噪声污染防治法"]  # fmt: skip
ORGS = ["武侯区住建局", "锦江区城管执法局", "成都市市场监督管理局", "青羊区人社局", "高新区公园城市建设局", "成华区府青路街道办事处",
        "金牛区应急管理局", "市12345热线办", "双流区综合行政执法局", "四川省信访局"]  # fmt: skip
ROADS = ["人民南路四段", "红星路三段", "天府大道北段", "蜀都大道", "一环路北三段", "二环路东二段", "双龙大道", "科华中路",
         "剑南大道中段", "金沙路", "建设路", "解放路一段", "光华大道三段", "益州大道北段"]  # fmt: skip


def _noise_values(rng: random.Random) -> dict:
    year = rng.choice([2023, 2024, 2025, 2026])
    return {
        "date": f"{year}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d} {rng.randint(8, 20):02d}:{rng.randint(0, 59):02d}",
        "date2": rng.choice(
            [
                f"{year}年{rng.randint(1, 12)}月{rng.randint(1, 28)}日",
                f"{year}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
                f"{year}/{rng.randint(1, 12)}/{rng.randint(1, 28)}",
                f"{rng.randint(1, 12)}月{rng.randint(1, 28)}日",
            ]
        ),
        "ticket": rng.choice(["GD", "SC", "RX", "", "12345-"])
        + f"{year}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}{rng.randint(0, 99999):05d}",
        "amount": rng.choice(
            [
                f"{rng.randint(100, 99999)}",
                f"{rng.randint(1, 999)},{rng.randint(0, 999):03d}.{rng.randint(0, 99):02d}",
                f"{rng.randint(1, 9999)}.{rng.randint(0, 99):02d}",
            ]
        ),
        "law": rng.choice(LAWS),
        "art": rng.choice(["十二", "二十三", "五十一", "一百零八", "三十六", "十八", "7", "45"]),
        "docno": rng.choice(["武城管罚决字", "川府发", "成办发", "锦住建函", "武府办发", "川人社发", "成市监罚"])
        + f"〔{year}〕{rng.randint(1, 1500)}号",
        "caseno": f"WH-{year}-{rng.randint(1, 9999):04d}",
        "courtno": f"（{year}）川{rng.choice(['01', '0107', '0104', '0116'])}{rng.choice(['民初', '行初', '民终', '执'])}{rng.randint(1, 29999)}号",
        "invoice": "0"
        + rng.choice(["44031900", "51010025", "11002300", "31001900", "33010021"])
        + f"{rng.randint(0, 999):03d}",
        "inv_no": f"{rng.randint(0, 99999999):08d}",
        "uscc": rng.choice(["9151", "9144", "9111", "1251", "5251", "9133"])
        + rng.choice(["0100", "0107", "0300", "0104"])
        + "".join(rng.choice("0123456789ABCDEFGHJKLMNPQRTUWXY") for _ in range(9))
        + rng.choice("0123456789ABCX"),
        "order": f"{year}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}{rng.randint(10**9, 10**10 - 1)}",
        "staff": rng.choice(
            [
                f"{rng.randint(10**5, 10**6 - 1)}",
                f"0{rng.randint(10**9, 10**10 - 1)}",
                f"{year}{rng.randint(1000, 9999)}",
            ]
        ),
        "contract": f"HT-{year}-{rng.randint(1, 999):03d}",
        "time": rng.choice(["9:00-17:00", "工作日8:30至12:00、14:00至18:00", "周一至周五9:00—17:30"]),
        "road": rng.choice(ROADS),
        "org": rng.choice(ORGS),
        "express": rng.choice(["SF", "YT", "JD", "ZT"]) + f"{rng.randint(10**12, 10**13 - 1)}",
        "code0": f"0{rng.randint(10, 99)}{rng.randint(10**7, 10**8 - 1)}",
        "project": f"5101{rng.randint(10, 99)}-{year}-{rng.randint(1, 99999):05d}",
    }


def _pd_fragment(rng: random.Random, kind: str) -> str:
    if kind == "id":
        r = rng.random()
        if r < 0.2:
            value = "$ID:4-4-4-4-2" + rng.choice(["", "", "/-"])
        elif r < 0.3:
            value = "$IDLUHN" + rng.choice([":4-4-4-4-2", "", ":6-8-4"])
        elif r < 0.35:
            value = "$ID:3-3-4-4-4"
        else:
            value = "@id"
        return rng.choice(ID_LEADS) + f"«id|{value}»"
    if kind == "mob":
        return rng.choice(MOB_LEADS) + "«mob|@mob»"
    if kind == "tel":
        return rng.choice(TEL_LEADS) + "«tel|@tel»"
    if kind == "card":
        return rng.choice(CARD_LEADS) + "«card|@card»"
    if kind == "mail":
        return rng.choice(MAIL_LEADS) + "«mail|@mail»"
    if kind == "plate":
        return rng.choice(PLATE_LEADS) + "«plate|@plate»"
    if rng.random() < 0.12:  # a village without a number, after a label that says it is an address
        return rng.choice(PLACE_LABELS) + "«addr|@village»"
    return rng.choice(ADDR_LEADS) + "«addr|@addr»"


KIND_WEIGHTS = {"hotline": "mob mob mob addr addr addr tel id plate card mail",
                "petition": "id id mob mob addr addr addr tel card mail",
                "case": "id id id mob mob addr addr addr plate plate card tel",
                "notice": "id addr addr mob card card mail tel"}  # fmt: skip


def generated_texts(rng: random.Random, count: int):
    genres = list(OPENERS)
    for i in range(count):
        genre = genres[i % len(genres)]
        values = _noise_values(rng)
        values["name"] = rng.choice(NAMES)
        parts = [rng.choice(OPENERS[genre]).format(**values), rng.choice(WHO[genre]).format(**values)]
        kinds = rng.sample(KIND_WEIGHTS[genre].split(), rng.randint(1, 4))
        for kind in kinds:
            parts.append(rng.choice(["，", "（", "，", ""]) if len(parts) == 2 else rng.choice(SEP))
            parts.append(_pd_fragment(rng, kind))
        if genre in ("hotline", "petition"):
            parts.append(rng.choice(["，反映", "。诉求：", "，称", "。内容："]) + rng.choice(ISSUES))
        for _ in range(rng.randint(0, 2)):
            parts.append(rng.choice(SEP) + rng.choice(NOISE).format(**values))
        parts.append(rng.choice(["。", "。请尽快处理。", "", "，请核实。", "。特此记录。"]))
        text = "".join(parts)
        if rng.random() < 0.15:  # an address written before the person, as tickets often do
            text = rng.choice(["反映地点：", "事发地址："]) + "«addr|@addr»" + rng.choice(["。", "，"]) + text
        yield genre, text


CLEAN_TEMPLATES = [
    "关于印发《{road}沿线环境综合整治方案》的通知（{docno}），请各单位于{date2}前报送工作进展。",
    "{org}{date2}通报：全区共受理12345热线工单{n}件，按时办结率{pct}%，群众满意率{pct2}%。",
    "依据《{law}》第{art}条第二款，对{road}沿线违法占道行为依法查处，罚款{amount}元。",
    "发票代码{invoice}，发票号码{inv_no}，开票日期{date2}，金额{amount}元，税额{amount2}元。",
    "统一社会信用代码：{uscc}；登记机关：{org}；成立日期：{date2}；注册资本{n}万元。",
    "{road}、{road2}等道路将于{date2}起实施交通组织调整，施工期间{time}。",
    "项目编号：{project}，合同编号{contract}，预算金额人民币{amount}元，资金来源：财政资金（{docno}）。",
    "订单号{order}已于{date2}完成退款，退款金额{amount}元，请以银行到账时间为准。",
    "会议定于{date2}{clock}在{org}三楼会议室召开，请参会人员提前10分钟签到。",
    "根据{docno}文件要求，{road}片区{n}户老旧小区纳入{year}年改造计划，总投资{amount}万元。",
    "{org}政务服务大厅办公时间：{time}；咨询热线12345；网上办理请登录天府通办。",
    "案号{courtno}，案由：买卖合同纠纷，诉讼标的额{amount}元，立案日期{date2}。",
    "第{art}条 违反本条例规定，在{road}等城市主干道两侧擅自设置户外广告的，处{n}元以上{n2}元以下罚款。",
    "快递单号{express}显示已签收，工号{staff}的投递员已确认，运单费用{amount2}元。",
    "税号{uscc}，开户行中国建设银行成都第一支行，发票代码：{invoice}。",
    "截至{date2}，{org}共办理行政许可{n}件、行政处罚{n2}件，罚没款合计{amount}元。",
    "编号{code0}的设备已于{date2}检修完毕，检修费用{amount2}元，下次检修时间{date2}。",
]


def clean_texts(rng: random.Random, count: int):
    for _ in range(count):
        values = _noise_values(rng)
        values.update(
            road2=rng.choice(ROADS),
            amount2=f"{rng.randint(1, 9999)}.{rng.randint(0, 99):02d}",
            n=rng.randint(3, 9000),
            n2=rng.randint(9001, 50000),
            pct=f"{rng.uniform(90, 99.9):.1f}",
            pct2=f"{rng.uniform(85, 99.9):.1f}",
            year=rng.choice([2025, 2026]),
            clock=rng.choice(["上午9:30", "下午14:00", "15时30分"]),
        )
        yield rng.choice(CLEAN_TEMPLATES).format(**values)
