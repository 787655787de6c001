"""Build the labelled GB/T 9704 set: documents of the fifteen kinds, clean or with seeded mistakes.

Run ``python tests/agents/tools/docformat_set/generate.py`` to rewrite ``generated.json``. Each
document is built from parts (版头, 发文字号, 标题, 主送机关, 正文 with heading levels, 附件说明,
署名, 成文日期, 附注, 版记) whose wording, agencies, numbers and layout vary; a seeded mistake is
applied to one part and labelled with its finding's code and the line it belongs on. The seed is
fixed, so the file only changes when this script does.
"""

from __future__ import annotations

import copy
import json
import random
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent

# (name, 机关代字, level): level "city"/"district"/"county"/"town" decides the superior it writes to.
AGENCIES = [
    ("江州市人民政府办公室", "江政办发", "city"),
    ("江州市应急管理局", "江应急", "city"),
    ("江州市财政局", "江财预", "city"),
    ("江州市卫生健康委员会", "江卫发", "city"),
    ("江州市生态环境局", "江环发", "city"),
    ("江州市市场监督管理局", "江市监", "city"),
    ("江州市交通运输局", "江交运", "city"),
    ("江州市人力资源和社会保障局", "江人社发", "city"),
    ("江州市民政局", "江民发", "city"),
    ("江州市住房和城乡建设局", "江建字", "city"),
    ("江州市教育局", "江教发", "city"),
    ("江州市农业农村局", "江农", "city"),
    ("江州市自然资源和规划局", "江自然资规", "city"),
    ("江州市数据资源管理局", "江数据", "city"),
    ("青山区人民政府", "青政发", "district"),
    ("青山区教育局", "青教", "district"),
    ("青山区城市管理局", "青城管", "district"),
    ("青山区退役军人事务局", "青退役", "district"),
    ("临川县人民政府办公室", "临政办", "county"),
    ("临川县水利局", "临水", "county"),
    ("临川县文化和旅游局", "临文旅", "county"),
    ("平阳镇人民政府", "平政", "town"),
]
SUPERIOR = {
    "city": "江州市人民政府",
    "district": "青山区人民政府",
    "county": "临川县人民政府",
    "town": "临川县人民政府",
}
SUBORDINATES = {
    "city": "各区、县（市）人民政府，市政府各部门、各直属机构：",
    "district": "各街道办事处，区政府各委、办、局：",
    "county": "各乡镇人民政府，县直各单位：",
    "town": "各村（居）民委员会，镇属各单位：",
}
PEERS = ["江州市统计局", "江州市公安局", "江州市税务局", "青山区财政局", "临川县发展和改革局", "江州市气象局"]
NAMES = ["李强", "王建国", "张丽华", "陈明", "刘志远", "赵敏", "孙海燕", "周涛", "吴晓东", "郑文"]

# Topics: (事由 for a title, purpose clause, a basis document (title, number) or None, sentences, item titles)
TOPICS = [
    (
        "做好2025年汛期安全防范工作",
        "切实做好今年汛期安全防范工作，保障人民群众生命财产安全",
        ("江州市防汛应急预案", "江政办发〔2024〕8号"),
        [
            "各单位主要负责同志是本单位防汛第一责任人，要亲自部署、亲自检查，确保责任落实到岗到人。",
            "重点排查地下空间、低洼院落、在建工地和危旧房屋，建立隐患台账，逐项明确整改责任人和时限。",
            "汛期实行24小时值班和领导带班制度，严格执行信息报送规定，遇有险情第一时间报告。",
            "提前储备冲锋舟、救生衣、抽水泵和沙袋等防汛物资，确保关键时刻拿得出、用得上。",
        ],
        ["压实防汛责任", "开展隐患排查", "加强值班值守", "做好物资储备"],
    ),
    (
        "开展2025年度安全生产大检查",
        "深刻吸取近期事故教训，有效防范遏制重特大事故发生",
        ("江州市安全生产专项整治三年行动实施方案", "江安委〔2023〕2号"),
        [
            "检查范围覆盖危险化学品、建筑施工、道路运输、城镇燃气和消防等重点行业领域。",
            "对检查发现的问题隐患，要实行清单化管理，做到整改责任、措施、资金、时限和预案五落实。",
            "各行业主管部门要按照管行业必须管安全的要求，组织专家开展指导服务。",
            "对拒不整改或整改不到位的生产经营单位，依法依规予以处罚并公开曝光。",
        ],
        ["明确检查范围", "落实整改责任", "强化专家指导", "严格执法问责"],
    ),
    (
        "进一步优化营商环境",
        "持续深化“放管服”改革，激发市场主体活力",
        ("江州市优化营商环境条例实施细则", "江政发〔2024〕15号"),
        [
            "全面推行企业开办“一网通办”，将企业开办时间压缩至1个工作日以内。",
            "深化工程建设项目审批制度改革，社会投资小型低风险项目审批时间不超过15个工作日。",
            "建立健全涉企政策直达快享机制，推动惠企政策免申即享。",
            "畅通企业诉求反映渠道，对企业反映的问题实行台账管理、限时办结。",
        ],
        ["提升政务服务效能", "压缩审批时限", "落实惠企政策", "健全诉求响应机制"],
    ),
    (
        "加强城市生活垃圾分类管理",
        "推动生活垃圾减量化、资源化、无害化处理，改善城市人居环境",
        ("江州市生活垃圾分类管理办法", "江政规〔2023〕4号"),
        [
            "各街道要在居民小区合理设置分类投放点，配齐配足可回收物、有害垃圾、厨余垃圾和其他垃圾收集容器。",
            "环卫作业单位要做到分类收集、分类运输，严禁混装混运。",
            "组织志愿者开展桶边督导，引导居民养成分类投放的良好习惯。",
            "将垃圾分类工作纳入文明城市创建考核，定期通报各街道工作进展。",
        ],
        ["完善分类投放设施", "规范收集运输", "开展宣传督导", "强化考核评价"],
    ),
    (
        "做好2025年高校毕业生就业创业工作",
        "促进高校毕业生更加充分更高质量就业",
        ("江州市促进青年就业若干措施", "江人社发〔2024〕21号"),
        [
            "鼓励中小微企业吸纳高校毕业生就业，按规定给予一次性吸纳就业补贴。",
            "组织开展百日千万招聘专项行动，举办线上线下专场招聘会不少于30场。",
            "对离校未就业毕业生实施实名制帮扶，提供“一对一”就业指导服务。",
            "支持毕业生自主创业，符合条件的可申请最高30万元的创业担保贷款。",
        ],
        ["拓宽就业渠道", "强化招聘服务", "做好困难帮扶", "支持创业带动就业"],
    ),
    (
        "开展养老机构服务质量提升行动",
        "提升养老机构服务质量，更好满足老年人养老服务需求",
        None,
        [
            "对照养老机构服务质量基本规范，组织全市养老机构逐项开展自查。",
            "重点整治消防设施不达标、食品安全管理不规范和护理人员持证率低等突出问题。",
            "加强养老护理员职业技能培训，年内培训人数不少于500人次。",
            "建立养老机构服务质量星级评定制度，评定结果向社会公开。",
        ],
        ["全面开展自查", "整治突出问题", "加强队伍建设", "推行星级评定"],
    ),
    (
        "加强冬春季森林防灭火工作",
        "严防森林火灾发生，保护森林资源和人民群众生命财产安全",
        ("江州市森林火灾应急预案", "江政办函〔2024〕33号"),
        [
            "严格落实野外火源管控措施，在重点林区入口设置检查站，严禁携带火种进山。",
            "加强护林员队伍管理，实行网格化巡护，做到山有人管、林有人护、火有人防。",
            "专业扑火队伍要实行靠前驻防，确保接到火情后30分钟内到达现场。",
            "利用广播、短信和宣传车等多种形式，广泛宣传森林防火知识。",
        ],
        ["严控野外火源", "强化巡护管理", "做好扑救准备", "广泛宣传教育"],
    ),
    (
        "推进老旧小区改造工作",
        "改善居民居住条件，提升城市功能品质",
        ("江州市城镇老旧小区改造实施方案", "江建字〔2024〕56号"),
        [
            "今年计划改造老旧小区42个，涉及居民1.2万户，建筑面积约96万平方米。",
            "改造内容包括屋面防水、外墙保温、管网更新、加装电梯和增设停车位等。",
            "坚持居民自愿、先民主后民生，改造方案须经小区三分之二以上居民同意。",
            "建立质量安全巡查制度，邀请居民代表全程参与工程监督。",
        ],
        ["明确改造任务", "细化改造内容", "尊重居民意愿", "强化质量监管"],
    ),
    (
        "加强校园食品安全管理",
        "保障师生饮食安全和身体健康",
        None,
        [
            "学校食堂要严格落实食品原料进货查验和索证索票制度，建立完整的采购台账。",
            "全面推行校长陪餐制度，学校负责人每餐轮流与学生共同用餐。",
            "市场监管部门每学期对学校食堂开展不少于2次的监督检查。",
            "发生食品安全事故的，要立即启动应急预案，并在2小时内报告属地政府。",
        ],
        ["落实进货查验制度", "推行陪餐制度", "强化监督检查", "做好应急处置"],
    ),
    (
        "规范政府投资项目管理",
        "提高政府投资效益，规范政府投资行为",
        ("江州市政府投资项目管理办法", "江政发〔2023〕11号"),
        [
            "政府投资项目应当纳入三年滚动计划和年度投资计划，未纳入计划的不得安排资金。",
            "严格执行项目概算审批制度，项目实施中确需调增概算的，须按程序报批。",
            "推行项目代建制，非经营性政府投资项目原则上实行集中代建。",
            "项目竣工后6个月内完成竣工财务决算，并及时办理资产移交手续。",
        ],
        ["加强计划管理", "严格概算控制", "推行代建制度", "做好竣工决算"],
    ),
    (
        "做好农村人居环境整治提升工作",
        "建设宜居宜业和美乡村",
        None,
        [
            "加快推进农村户厕改造，今年新改造户厕3000座，完成率达到100%。",
            "健全农村生活垃圾收运处置体系，实现自然村收集全覆盖。",
            "因地制宜开展农村生活污水治理，优先治理水源保护区和人口集中村庄。",
            "开展村庄清洁行动，组织群众清理房前屋后和村内道路。",
        ],
        ["推进厕所革命", "治理生活垃圾", "治理生活污水", "开展村庄清洁"],
    ),
    (
        "加强政务数据共享",
        "打破信息孤岛，提升数字政府建设水平",
        ("江州市政务数据管理暂行办法", "江政办发〔2024〕40号"),
        [
            "各部门要按照“一数一源”的要求，梳理本部门政务数据资源目录，明确共享属性。",
            "除法律法规另有规定外，政务数据应当通过市数据共享交换平台依申请共享。",
            "建立数据质量责任制，数据提供部门对共享数据的准确性、完整性和时效性负责。",
            "严格落实数据安全管理制度，共享数据不得用于申请用途以外的目的。",
        ],
        ["编制资源目录", "规范共享流程", "提升数据质量", "保障数据安全"],
    ),
]

# Wording particular to each kind.
REQUEST_ASKS = [
    ("申请拨付防汛物资购置经费", "共需经费86.5万元，现申请市财政予以拨付"),
    ("申请增加2025年度事业编制", "拟申请增加事业编制12名，用于充实一线执法力量"),
    ("申请召开全市安全生产工作会议", "拟于下月中旬召开全市安全生产工作会议，会期半天"),
    ("申请设立智慧城市运行管理中心", "拟设立智慧城市运行管理中心，为公益一类事业单位"),
    ("申请调整老旧小区改造项目计划", "拟将3个小区调整至下一年度实施，相应资金结转使用"),
    ("申请追加农村人居环境整治专项资金", "申请追加专项资金320万元，用于户厕改造和污水治理"),
]
REQUEST_CLOSERS = ["妥否，请批示。", "以上请示当否，请批示。", "特此请示，请予审批。", "以上请示，请予批准。"]
REPORT_SUBJECTS = [
    ("2025年上半年安全生产工作情况", "上半年"),
    ("2024年度法治政府建设工作情况", "2024年"),
    ("汛期隐患排查整治工作情况", "汛前"),
    ("优化营商环境工作推进情况", "今年以来"),
    ("城市生活垃圾分类工作开展情况", "今年以来"),
    ("政务数据共享工作进展情况", "今年以来"),
]
REPORT_SECTIONS = ["主要工作及成效", "存在的主要问题", "下一步工作打算"]
REPORT_CLOSERS = ["特此报告。", "以上报告，请审阅。", "专此报告。"]
LETTER_ASKS = [
    ("商请提供2025年上半年经济指标数据", "请贵局于7月10日前提供上半年全市主要经济指标数据", "请予支持为盼。"),
    ("商请协助开展道路交通安全联合检查", "拟于下月联合开展道路交通安全检查，请贵局派员参加", "盼复。"),
    ("商请共享企业登记信息", "为开展惠企政策精准推送，请贵局通过共享平台提供企业登记信息", "特此函商。"),
    ("征求《江州市物业管理办法（征求意见稿）》意见", "请于本月20日前将书面意见反馈我局", "特此函告。"),
]

DATE_LINE_FORMS = ["{y}年{m}月{d}日"]


@dataclass
class Doc:
    kind: str
    lines: list[str] = field(default_factory=list)
    # named positions (indexes into lines) of the parts a seeded mistake may touch
    at: dict = field(default_factory=dict)
    many: dict = field(default_factory=dict)  # lists of indexes: headings, body sentences …
    labels: list = field(default_factory=list)
    deleted: bool = False

    def add(self, text: str = "", name: str | None = None, group: str | None = None) -> int:
        self.lines.append(text)
        index = len(self.lines) - 1
        if name:
            self.at[name] = index
        if group:
            self.many.setdefault(group, []).append(index)
        return index


def cn(n: int) -> str:
    digits = "零一二三四五六七八九"
    if n < 10:
        return digits[n]
    tens, units = divmod(n, 10)
    return ("" if tens == 1 else digits[tens]) + "十" + (digits[units] if units else "")


class Builder:
    def __init__(self, rng: random.Random):
        self.rng = rng

    def pick(self, seq):
        return self.rng.choice(seq)

    def indent(self) -> str:
        return self.rng.choice(["", "    ", "\u3000\u3000"])

    def date(self):
        return 2025, self.rng.randint(1, 12), self.rng.randint(1, 28)

    # ------------------------------------------------------------------ parts

    def header(self, doc: Doc, agency, *, signer: bool, with_mark: bool):
        name, code, _level = agency
        if with_mark:
            if self.rng.random() < 0.3:
                doc.add(str(self.rng.randint(1, 999999)).zfill(6))
            doc.add(f"{name.removesuffix('办公室')}文件" if self.rng.random() < 0.5 else f"{name}文件")
            doc.add()
        year = self.pick([2024, 2025, 2025])
        number = f"{code}〔{year}〕{self.rng.randint(1, 160)}号"
        if signer:
            gap = self.pick(["    ", "\u3000\u3000\u3000\u3000", "          "])
            doc.add(f"{number}{gap}签发人：{self.pick(NAMES)}", name="number")
        else:
            doc.add(number, name="number")
        doc.add()

    def title(self, doc: Doc, agency_name: str, subject: str, kind_word: str, split: bool):
        if split:
            doc.add(agency_name, name="title_first")
            doc.add(f"关于{subject}的{kind_word}", name="title")
        else:
            doc.add(f"{agency_name}关于{subject}的{kind_word}", name="title")
        doc.add()

    def paragraph(self, doc: Doc, text: str, ind: str, group: str | None = "sentence") -> int:
        return doc.add(ind + text, group=group)

    def headings(self, doc: Doc, topic, ind: str, *, depth: int):
        """Sections 一、 with （一） items, some with 1. and （1） below."""
        sentences, items = topic[3], topic[4]
        sections = self.rng.sample(["总体要求", "重点任务", "保障措施", "工作要求", "工作安排", "组织领导"], 3)
        sub_used = False
        for s, section in enumerate(sections, start=1):
            doc.add(f"{ind}{cn(s)}、{section}", group="h1")
            if s == 2 and depth >= 2:
                count = self.rng.randint(2, 4)
                for k in range(1, count + 1):
                    sentence = sentences[(k - 1) % len(sentences)]
                    doc.add(f"{ind}（{cn(k)}）{items[(k - 1) % len(items)]}。{sentence}", group="h2")
                    if k == 2 and depth >= 3 and not sub_used:
                        sub_used = True
                        for j in range(1, 3):
                            doc.add(
                                f"{ind}{j}.{['排查范围', '排查要求', '工作方式'][j - 1]}。{sentences[j]}", group="h3"
                            )
                            if j == 2 and depth >= 4:
                                doc.add(f"{ind}（1）建立工作台账，逐项明确责任人和完成时限。", group="h4")
                                doc.add(f"{ind}（2）每月底前将工作进展报送牵头部门。", group="h4")
            else:
                self.paragraph(doc, self.pick(sentences), ind)

    def attachments(self, doc: Doc, ind: str, names: list[str]):
        if len(names) == 1:
            doc.add(f"{ind}附件：{names[0]}", name="attachment")
        else:
            doc.add(f"{ind}附件：1.{names[0]}", name="attachment")
            for i, n in enumerate(names[1:], start=2):
                doc.add(f"{ind}      {i}.{n}", group="attachment_items")
        doc.add()

    def signature(self, doc: Doc, name: str, when, *, right: bool):
        pad = " " * 28 if right else ""
        doc.add(f"{pad}{name}", name="signature")
        y, m, d = when
        doc.add(f"{pad}  {y}年{m}月{d}日", name="date")
        doc.add()

    def copy_block(self, doc: Doc, printer: str, when):
        y, m, d = when
        cc = self.rng.sample(
            ["市委办公室", "市人大常委会办公室", "市政协办公室", "市纪委监委", "市中级人民法院", "市人民检察院"], 3
        )
        doc.add()
        doc.add(f"抄送：{'，'.join(cc)}。", name="cc")
        doc.add(f"{printer}{' ' * self.rng.randint(4, 16)}{y}年{m}月{d}日印发", name="printed")

    # ------------------------------------------------------------------ kinds

    def build(self, kind: str) -> Doc:
        return getattr(
            self,
            "kind_"
            + {
                "决议": "resolution",
                "决定": "decision",
                "命令": "order",
                "公报": "communique",
                "公告": "announcement",
                "通告": "notice_public",
                "意见": "opinion",
                "通知": "notice",
                "通报": "bulletin",
                "报告": "report",
                "请示": "request",
                "批复": "reply",
                "议案": "motion",
                "函": "letter",
                "纪要": "minutes",
            }[kind],
        )()

    def kind_notice(self) -> Doc:
        doc = Doc("通知")
        agency = self.pick(AGENCIES)
        topic = self.pick(TOPICS)
        ind = self.indent()
        self.header(doc, agency, signer=False, with_mark=self.rng.random() < 0.7)
        self.title(doc, agency[0], topic[0], "通知", split=self.rng.random() < 0.4)
        doc.add(SUBORDINATES[agency[2]], name="addressee")
        basis = topic[2]
        cite = f"根据《{basis[0]}》（{basis[1]}）等有关规定，" if basis else ""
        doc.add(f"{ind}为{topic[1]}，{cite}现将有关事项通知如下：", name="opening", group="sentence")
        if basis:
            doc.at["citation"] = doc.at["opening"]
        doc.add()
        self.headings(doc, topic, ind, depth=self.rng.randint(2, 4))
        doc.add()
        attachments = self.rng.random() < 0.5
        names = []
        if attachments:
            names = self.rng.sample(
                ["工作责任人名单", "隐患排查情况统计表", "工作进度安排表", "联络员信息表"], self.rng.randint(1, 2)
            )
            names = [f"{agency[0].removesuffix('办公室')[:3]}{n}" for n in names]
            ref = "（附件1）" if len(names) > 1 else "（见附件）"
            self.paragraph(doc, f"请各单位于{self.rng.randint(5, 25)}日前报送相关材料{ref}。", ind)
            doc.add()
            self.attachments(doc, ind, names)
        if self.rng.random() < 0.4:
            self.paragraph(doc, "特此通知。", ind, group=None)
            doc.add()
        when = self.date()
        self.signature(doc, agency[0], when, right=self.rng.random() < 0.6)
        if self.rng.random() < 0.5:
            doc.add(f"{ind}（联系人：{self.pick(NAMES)}；联系电话：0791-8{self.rng.randint(1000000, 9999999)}）")
        for i, name in enumerate(names, start=1):
            doc.add()
            doc.add(f"附件{i}" if len(names) > 1 else "附件")
            doc.add()
            doc.add(name)
            doc.add()
            doc.add(f"{ind}（略）")
        if self.rng.random() < 0.6:
            self.copy_block(doc, agency[0], when)
        return doc

    def kind_request(self) -> Doc:
        doc = Doc("请示")
        agency = self.pick([a for a in AGENCIES if a[2] != "town" or True])
        ask = self.pick(REQUEST_ASKS)
        ind = self.indent()
        self.header(doc, agency, signer=True, with_mark=self.rng.random() < 0.6)
        self.title(doc, agency[0], ask[0], "请示", split=self.rng.random() < 0.4)
        doc.add(f"{SUPERIOR[agency[2]]}：", name="addressee")
        topic = self.pick(TOPICS)
        self.paragraph(doc, f"为{topic[1]}，{ask[1]}。现将有关情况请示如下：", ind)
        for i in range(1, 3):
            self.paragraph(doc, f"{cn(i)}、{['基本情况', '主要理由'][i - 1]}", ind, group="h1")
            self.paragraph(doc, topic[3][i], ind)
        self.paragraph(doc, self.pick(REQUEST_CLOSERS), ind, group=None)
        doc.add()
        self.signature(doc, agency[0], self.date(), right=self.rng.random() < 0.6)
        doc.add(
            f"{ind}（联系人：{self.pick(NAMES)}，联系电话：0791-8{self.rng.randint(1000000, 9999999)}）", name="contact"
        )
        return doc

    def kind_report(self) -> Doc:
        doc = Doc("报告")
        agency = self.pick(AGENCIES)
        subject, when_word = self.pick(REPORT_SUBJECTS)
        topic = self.pick(TOPICS)
        ind = self.indent()
        self.header(doc, agency, signer=True, with_mark=self.rng.random() < 0.6)
        self.title(doc, agency[0], subject, "报告", split=self.rng.random() < 0.3)
        doc.add(f"{SUPERIOR[agency[2]]}：", name="addressee")
        self.paragraph(
            doc, f"{when_word}，我局深入贯彻市委、市政府决策部署，扎实推进各项工作。现将有关情况报告如下：", ind
        )
        for i, section in enumerate(REPORT_SECTIONS, start=1):
            doc.add(f"{ind}{cn(i)}、{section}", group="h1")
            if i == 1:
                for k in range(1, 3):
                    doc.add(f"{ind}（{cn(k)}）{topic[4][k - 1]}。{topic[3][k - 1]}", group="h2")
            else:
                self.paragraph(doc, self.pick(topic[3]), ind)
        self.paragraph(doc, self.pick(REPORT_CLOSERS), ind, group="closer")
        doc.add()
        self.signature(doc, agency[0], self.date(), right=self.rng.random() < 0.6)
        return doc

    def kind_reply(self) -> Doc:
        doc = Doc("批复")
        superior = self.pick(AGENCIES[:14])
        lower = self.pick(["市数据资源管理局", "市应急管理局", "市教育局", "市民政局", "青山区人民政府"])
        ask = self.pick(REQUEST_ASKS)
        ind = self.indent()
        agency = ("江州市人民政府", "江政函", "city")
        self.header(doc, agency, signer=False, with_mark=False)
        subject = ask[0].replace("申请", "同意", 1)
        self.title(doc, agency[0], subject, "批复", split=self.rng.random() < 0.5)
        short = lower.removeprefix("市")
        doc.add(f"{short}：", name="addressee")
        req_no = f"{superior[1]}〔2025〕{self.rng.randint(1, 80)}号"
        doc.add(
            f"{ind}你{'局' if short.endswith('局') else '区'}《关于{ask[0]}的请示》（{req_no}）收悉。经研究，现批复如下：",
            group="sentence",
            name="citation",
        )
        doc.add(f"{ind}一、同意{ask[0].removeprefix('申请')}。", group="h1")
        doc.add(f"{ind}二、所需经费按规定程序列入部门预算，严格按照有关规定使用管理。", group="h1")
        self.paragraph(doc, "此复。", ind, group=None)
        doc.add()
        self.signature(doc, agency[0], self.date(), right=self.rng.random() < 0.5)
        if superior:
            doc.add(f"{ind}（此件公开发布）")
        return doc

    def kind_letter(self) -> Doc:
        doc = Doc("函")
        agency = self.pick(AGENCIES)
        ask = self.pick(LETTER_ASKS)
        ind = self.indent()
        if self.rng.random() < 0.5:
            self.header(doc, (agency[0], agency[1].removesuffix("发") + "函", agency[2]), signer=False, with_mark=False)
        self.title(doc, agency[0], ask[0], "函", split=self.rng.random() < 0.3)
        doc.add(f"{self.pick(PEERS)}：", name="addressee")
        self.paragraph(doc, f"为做好相关工作，{ask[1]}。", ind)
        self.paragraph(doc, ask[2], ind, group=None)
        doc.add()
        self.signature(doc, agency[0], self.date(), right=self.rng.random() < 0.5)
        doc.add(f"{ind}（联系人：{self.pick(NAMES)}，联系电话：0791-8{self.rng.randint(1000000, 9999999)}）")
        return doc

    def kind_opinion(self) -> Doc:
        doc = Doc("意见")
        agency = self.pick([a for a in AGENCIES if "人民政府" in a[0]])
        topic = self.pick(TOPICS)
        ind = self.indent()
        self.header(doc, agency, signer=False, with_mark=True)
        self.title(doc, agency[0], topic[0], "实施意见", split=self.rng.random() < 0.4)
        doc.add(SUBORDINATES[agency[2]], name="addressee")
        self.paragraph(doc, f"为{topic[1]}，结合本地实际，现提出如下意见。", ind)
        self.headings(doc, topic, ind, depth=self.rng.randint(2, 3))
        doc.add()
        when = self.date()
        self.signature(doc, agency[0], when, right=True)
        doc.add(f"{ind}（此件公开发布）")
        if self.rng.random() < 0.5:
            self.copy_block(doc, agency[0], when)
        return doc

    def kind_bulletin(self) -> Doc:
        doc = Doc("通报")
        agency = self.pick(AGENCIES)
        topic = self.pick(TOPICS)
        ind = self.indent()
        self.header(doc, agency, signer=False, with_mark=self.rng.random() < 0.5)
        subject = self.pick(
            [f"{topic[0][:8]}工作督查情况", "2025年第一季度政务服务“好差评”情况", "一起较大生产安全事故"]
        )
        self.title(doc, agency[0], subject, "通报", split=self.rng.random() < 0.3)
        doc.add(SUBORDINATES[agency[2]], name="addressee")
        self.paragraph(doc, f"为{topic[1]}，近期组织开展了专项督查。现将有关情况通报如下：", ind)
        for i, section in enumerate(["基本情况", "存在问题", "工作要求"], start=1):
            doc.add(f"{ind}{cn(i)}、{section}", group="h1")
            self.paragraph(doc, topic[3][i], ind)
        self.paragraph(doc, "特此通报。", ind, group=None)
        doc.add()
        self.signature(doc, agency[0], self.date(), right=self.rng.random() < 0.6)
        return doc

    def kind_decision(self) -> Doc:
        doc = Doc("决定")
        agency = self.pick([a for a in AGENCIES if "人民政府" in a[0]])
        ind = self.indent()
        self.header(doc, agency, signer=False, with_mark=True)
        subject = self.pick(
            [
                "表彰2024年度安全生产工作先进集体和先进个人",
                "废止和修改部分市政府规范性文件",
                "调整市防汛抗旱指挥部组成人员",
            ]
        )
        self.title(doc, agency[0], subject, "决定", split=self.rng.random() < 0.4)
        doc.add(SUBORDINATES[agency[2]], name="addressee")
        self.paragraph(doc, "为进一步推进依法行政，维护法制统一，经研究，决定对下列事项作出调整：", ind)
        for i in range(1, 4):
            doc.add(f"{ind}{cn(i)}、{['决定废止的文件', '决定修改的文件', '其他事项'][i - 1]}", group="h1")
            self.paragraph(doc, self.pick(TOPICS)[3][i], ind)
        self.paragraph(doc, "本决定自印发之日起施行。", ind, group=None)
        doc.add()
        self.signature(doc, agency[0], self.date(), right=True)
        return doc

    def kind_resolution(self) -> Doc:
        doc = Doc("决议")
        y, m, d = self.date()
        body = self.pick(["江州市第十七届人民代表大会第五次会议", "青山区第八届人民代表大会第四次会议"])
        subject = self.pick(
            [
                "2024年国民经济和社会发展计划执行情况与2025年计划",
                "政府工作报告",
                "2024年财政预算执行情况和2025年财政预算",
            ]
        )
        ind = self.indent()
        doc.add(f"{body}关于{subject}的决议", name="title")
        doc.add(f"（{y}年{m}月{d}日{body}通过）")
        doc.add()
        self.paragraph(doc, f"{body}听取和审议了关于{subject}的报告。会议同意报告的总体评价，决定批准该报告。", ind)
        self.paragraph(
            doc, "会议要求，各级人民政府要坚持稳中求进工作总基调，扎实推进各项工作，努力完成全年目标任务。", ind
        )
        return doc

    def kind_communique(self) -> Doc:
        doc = Doc("公报")
        ind = self.indent()
        year = self.pick([2023, 2024])
        doc.add(f"江州市{year}年国民经济和社会发展统计公报", name="title")
        doc.add()
        doc.add(f"江州市统计局{'  ' if self.rng.random() < 0.5 else ''}")
        y, m, d = self.date()
        doc.add(f"{y}年{m}月{d}日")
        doc.add()
        self.paragraph(doc, f"{year}年，全市上下坚持稳中求进工作总基调，经济运行总体平稳、稳中有进。", ind)
        doc.add(f"{ind}一、综合", group="h1")
        self.paragraph(
            doc,
            f"全年全市地区生产总值{self.rng.randint(3000, 6000)}.{self.rng.randint(1, 9)}亿元，比上年增长{self.rng.randint(4, 7)}.{self.rng.randint(0, 9)}%。",
            ind,
        )
        doc.add(f"{ind}二、农业", group="h1")
        self.paragraph(
            doc,
            f"全年粮食播种面积{self.rng.randint(200, 400)}.{self.rng.randint(1, 9)}万亩，粮食总产量{self.rng.randint(80, 160)}.{self.rng.randint(1, 9)}万吨。",
            ind,
        )
        doc.add(f"{ind}三、工业和建筑业", group="h1")
        self.paragraph(doc, "全年规模以上工业增加值比上年增长6.8%，其中高技术制造业增长12.1%。", ind)
        return doc

    def _public(self, kind: str) -> Doc:
        doc = Doc(kind)
        agency = self.pick(AGENCIES)
        topic = self.pick(TOPICS)
        ind = self.indent()
        if self.rng.random() < 0.4:
            self.header(doc, agency, signer=False, with_mark=False)
        subject = (
            topic[0]
            if kind == "通告"
            else self.pick(
                ["2025年度政府信息公开工作年度报告发布", "2025年夏季高温期间调整户外作业时间", "启用新版行政执法文书"]
            )
        )
        self.title(doc, agency[0], subject, kind, split=self.rng.random() < 0.4)
        self.paragraph(doc, f"为{topic[1]}，根据有关法律法规规定，现将有关事项{kind}如下：", ind)
        for i in range(1, self.rng.randint(3, 4)):
            doc.add(f"{ind}{cn(i)}、{topic[3][i - 1]}", group="h1")
        self.paragraph(doc, f"本{kind}自发布之日起施行。", ind)
        self.paragraph(doc, f"特此{kind}。", ind, group=None)
        doc.add()
        self.signature(doc, agency[0], self.date(), right=self.rng.random() < 0.6)
        return doc

    def kind_announcement(self) -> Doc:
        return self._public("公告")

    def kind_notice_public(self) -> Doc:
        return self._public("通告")

    def kind_order(self) -> Doc:
        doc = Doc("命令")
        ind = self.indent()
        city = self.pick(["江州市人民政府", "临川县人民政府"])
        doc.add(f"{city}令", name="title")
        doc.add(f"第{self.rng.randint(1, 60)}号")
        doc.add()
        y, m, d = self.date()
        law = self.pick(["江州市城市绿化管理办法", "江州市公共数据管理办法", "江州市电动自行车管理规定"])
        self.paragraph(
            doc,
            f"《{law}》已经{y}年{m}月{d}日市人民政府第{self.rng.randint(10, 60)}次常务会议审议通过，现予公布，自{y + 1}年1月1日起施行。",
            ind,
        )
        doc.add()
        doc.add(f"{' ' * 28}市长  {self.pick(NAMES)}", name="signature")
        doc.add(f"{' ' * 28}{y}年{m}月{d}日", name="date")
        return doc

    def kind_motion(self) -> Doc:
        doc = Doc("议案")
        ind = self.indent()
        agency = ("江州市人民政府", "江府议", "city")
        self.header(doc, agency, signer=False, with_mark=False)
        law = self.pick(
            ["江州市养老服务条例（草案）", "江州市历史文化名城保护条例（草案）", "江州市物业管理条例（草案）"]
        )
        self.title(doc, agency[0], f"提请审议《{law}》", "议案", split=self.rng.random() < 0.4)
        doc.add("江州市人民代表大会常务委员会：", name="addressee")
        self.paragraph(
            doc,
            f"为{self.pick(TOPICS)[1]}，市政府起草了《{law}》，已经市人民政府常务会议审议通过。现提请市人大常委会审议。",
            ind,
        )
        doc.add()
        doc.add(f"{' ' * 24}市长  {self.pick(NAMES)}", name="signature")
        y, m, d = self.date()
        doc.add(f"{' ' * 24}{y}年{m}月{d}日", name="date")
        return doc

    def kind_minutes(self) -> Doc:
        doc = Doc("纪要")
        ind = self.indent()
        topic = self.pick(TOPICS)
        doc.add(f"江州市{topic[0][2:8]}工作专题会议纪要", name="title")
        doc.add()
        y, m, d = self.date()
        self.paragraph(
            doc,
            f"{y}年{m}月{d}日，副市长{self.pick(NAMES)}主持召开专题会议，研究{topic[0]}有关事项。现将会议议定事项纪要如下：",
            ind,
        )
        for i in range(1, 4):
            doc.add(f"{ind}{cn(i)}、{topic[3][i - 1]}", group="h1")
        doc.add()
        doc.add(f"{ind}出席：{'、'.join(self.rng.sample(NAMES, 4))}")
        return doc


# --------------------------------------------------------------------------- seeded mistakes


def _replace(doc: Doc, index: int, old: str, new: str) -> bool:
    if old not in doc.lines[index]:
        return False
    doc.lines[index] = doc.lines[index].replace(old, new, 1)
    return True


def _delete(doc: Doc, index: int) -> None:
    """Remove a line; labels already placed below it move up, and no further mistake is seeded."""
    del doc.lines[index]
    for label in doc.labels:
        if label["line"] > index + 1:
            label["line"] -= 1
    doc.deleted = True


def _label(doc: Doc, code: str, index: int) -> None:
    doc.labels.append({"code": code, "line": index + 1})


def m_number(rng, doc: Doc):
    if "number" not in doc.at:
        return False
    i = doc.at["number"]
    choice = rng.choice(["brackets", "leading_zero", "di", "year"])
    text = doc.lines[i]
    if choice == "brackets":
        pair = rng.choice(["[]", "()", "【】", "（）", "［］"])
        doc.lines[i] = text.replace("〔", pair[0], 1).replace("〕", pair[1], 1)
    elif choice == "leading_zero":
        serial = text.split("〕", 1)[1].split("号", 1)[0]
        doc.lines[i] = text.replace(f"〕{serial}号", f"〕0{serial}号", 1)
    elif choice == "di":
        doc.lines[i] = text.replace("〕", "〕第", 1)
    else:
        doc.lines[i] = text.replace("〔2025〕", "〔25〕", 1).replace("〔2024〕", "〔24〕", 1)
    _label(doc, f"number.{choice}", i)
    return True


def m_title_punct(rng, doc: Doc):
    i = doc.at["title"]
    doc.lines[i] += rng.choice(["。", "；", "，"])
    _label(doc, "title.trailing_punctuation", i)
    return True


def m_addressee(rng, doc: Doc):
    if "addressee" not in doc.at:
        return False
    i = doc.at["addressee"]
    choice = rng.choice(["missing_colon", "colon", "punctuation"])
    base = doc.lines[i].removesuffix("：")
    doc.lines[i] = base + {"missing_colon": "", "colon": ":", "punctuation": rng.choice(["；", "，"])}[choice]
    _label(doc, f"addressee.{choice}", i)
    return True


def m_heading_form(rng, doc: Doc):
    options = []
    for group, marks in (
        ("h1", [("、", ".")]),
        ("h2", [("（", "("), ("）", ")")]),
        ("h3", [(".", "、")]),
        ("h4", [("（", "(")]),
    ):
        for i in doc.many.get(group, []):
            options += [(i, old, new) for old, new in marks]
    if not options:
        return False
    i, old, new = rng.choice(options)
    _replace(doc, i, old, new)
    _label(doc, "heading.form", i)
    return True


def m_heading_number(rng, doc: Doc):
    h1 = doc.many.get("h1", [])
    if len(h1) < 3:
        return False
    choice = rng.choice(["numbering", "duplicate"])
    i = h1[2]
    if choice == "numbering":
        _replace(doc, i, "三、", "四、")
    else:
        _replace(doc, i, "三、", "二、")
    _label(doc, f"heading.{choice}", i)
    return True


def m_heading_order(rng, doc: Doc):
    """Swap a section heading with the first item under it: （一） then 二、."""
    h1, h2 = doc.many.get("h1", []), doc.many.get("h2", [])
    pairs = [(a, a + 1) for a in h1 if a + 1 in h2]
    if not pairs:
        return False
    a, b = rng.choice(pairs)
    doc.lines[a], doc.lines[b] = doc.lines[b], doc.lines[a]
    _label(doc, "heading.order", a)
    return True


def m_halfwidth(rng, doc: Doc):
    options = []
    for i in doc.many.get("sentence", []) + doc.many.get("h2", []):
        line = doc.lines[i]
        for k, ch in enumerate(line):
            if (
                ch in "，；"
                and 0 < k < len(line) - 1
                and "\u4e00" <= line[k - 1] <= "\u9fff"
                and "\u4e00" <= line[k + 1] <= "\u9fff"
            ):
                options.append((i, k, ch))
    if not options:
        return False
    i, k, ch = rng.choice(options)
    line = doc.lines[i]
    doc.lines[i] = line[:k] + {"，": ",", "；": ";"}[ch] + line[k + 1 :]
    _label(doc, "punctuation.halfwidth", i)
    return True


def m_date(rng, doc: Doc):
    if "date" not in doc.at:
        return False
    i = doc.at["date"]
    line = doc.lines[i]
    pad = line[: len(line) - len(line.lstrip())]
    y, rest = line.strip().split("年")
    m, rest = rest.split("月")
    d = rest.removesuffix("日")
    choice = rng.choice(["leading_zero", "chinese_numerals", "separator", "missing"])
    if choice == "leading_zero":
        if int(m) >= 10 and int(d) >= 10:
            return False
        doc.lines[i] = f"{pad}{y}年{int(m):02d}月{int(d):02d}日"
    elif choice == "chinese_numerals":
        year = "".join("〇一二三四五六七八九"[int(c)] for c in y)
        doc.lines[i] = f"{pad}{year}年{cn(int(m))}月{cn(int(d))}日"
    elif choice == "separator":
        sep = rng.choice(["-", ".", "/"])
        doc.lines[i] = f"{pad}{y}{sep}{m}{sep}{d}"
    else:
        _delete(doc, i)
        _label(doc, "date.missing", doc.at["signature"])
        return True
    _label(doc, f"date.{choice}", i)
    return True


def m_attachment(rng, doc: Doc):
    if "attachment" not in doc.at:
        return False
    i = doc.at["attachment"]
    choice = rng.choice(["colon", "trailing_punctuation"])
    if choice == "colon":
        _replace(doc, i, "附件：", rng.choice(["附件:", "附件"]))
        _label(doc, "attachment.colon", i)
    else:
        items = doc.many.get("attachment_items", [])
        j = items[-1] if items else i
        doc.lines[j] += "。"
        _label(doc, "attachment.trailing_punctuation", j)
    return True


def m_cc(rng, doc: Doc):
    if "cc" not in doc.at:
        return False
    i = doc.at["cc"]
    if rng.random() < 0.5:
        _replace(doc, i, "抄送：", "抄送:")
        _label(doc, "cc.colon", i)
    else:
        doc.lines[i] = doc.lines[i].removesuffix("。")
        _label(doc, "cc.trailing_period", i)
    return True


def m_signer(rng, doc: Doc):
    if doc.kind not in ("请示", "报告") or "number" not in doc.at:
        return False
    i = doc.at["number"]
    doc.lines[i] = doc.lines[i].split("签发人")[0].rstrip()
    _label(doc, "signer.missing", i)
    return True


def m_multiple_addressees(rng, doc: Doc):
    if doc.kind != "请示":
        return False
    i = doc.at["addressee"]
    other = rng.choice(["市财政局", "市发展和改革委员会", "市委编办"])
    doc.lines[i] = doc.lines[i].removesuffix("：") + rng.choice(["、", "，"]) + other + "："
    _label(doc, "request.multiple_addressees", i)
    return True


def m_report_request(rng, doc: Doc):
    if doc.kind != "报告":
        return False
    i = doc.at.get("closer") if "closer" in doc.at else doc.many["closer"][-1]
    doc.lines[i] = doc.lines[i][: len(doc.lines[i]) - len(doc.lines[i].lstrip())] + rng.choice(
        ["以上报告，请审批。", "妥否，请批示。", "特此报告，请予批准。", "以上报告如无不妥，请批复。"]
    )
    _label(doc, "report.contains_request", i)
    return True


def m_citation_order(rng, doc: Doc):
    i = doc.at.get("citation")
    if i is None:
        return False
    line = doc.lines[i]
    start = line.find("《")
    end = line.find("）", start)
    if start < 0 or end < 0:
        return False
    title_end = line.index("》", start) + 1
    title, number = line[start:title_end], line[title_end + 1 : end]
    doc.lines[i] = line[:start] + number + title + line[end + 1 :]
    _label(doc, "citation.order", i)
    return True


def m_mixed_type(rng, doc: Doc):
    if doc.kind != "请示":
        return False
    i = doc.at["title"]
    doc.lines[i] = doc.lines[i].removesuffix("请示") + "请示报告"
    _label(doc, "title.mixed_doc_type", i)
    return True


def m_contact(rng, doc: Doc):
    if "contact" not in doc.at:
        return False
    _delete(doc, doc.at["contact"])
    _label(doc, "request.contact_missing", doc.at["date"])
    return True


MUTATIONS = [
    m_number,
    m_title_punct,
    m_addressee,
    m_heading_form,
    m_heading_number,
    m_heading_order,
    m_halfwidth,
    m_date,
    m_attachment,
    m_cc,
    m_signer,
    m_multiple_addressees,
    m_report_request,
    m_citation_order,
    m_mixed_type,
    m_contact,
]
KINDS = [
    "决议",
    "决定",
    "命令",
    "公报",
    "公告",
    "通告",
    "意见",
    "通知",
    "通报",
    "报告",
    "请示",
    "批复",
    "议案",
    "函",
    "纪要",
]
# The kinds offices write most get more documents.
WEIGHTS = {"通知": 4, "请示": 4, "报告": 4, "函": 3, "批复": 2, "意见": 2, "通报": 2}


def generate(seed: int = 9704) -> list[dict]:
    rng = random.Random(seed)
    builder = Builder(rng)
    out = []
    used = dict.fromkeys((m.__name__ for m in MUTATIONS), 0)
    plan = [k for k in KINDS for _ in range(WEIGHTS.get(k, 1) * 4)]
    for n, kind in enumerate(plan):
        doc = builder.build(kind)
        seeded = rng.random() < 0.62
        if seeded:
            wanted = 1 if rng.random() < 0.75 else 2
            while len(doc.labels) < wanted and not doc.deleted:
                # The least used mistake that fits this document, so every class gets its share.
                fits = [m for m in MUTATIONS if m(random.Random(0), copy.deepcopy(doc)) is not False]
                fits = [m for m in fits if m.__name__ not in {lb["by"] for lb in doc.labels}]
                if not fits:
                    break
                least = min(used[m.__name__] for m in fits)
                mutate = rng.choice([m for m in fits if used[m.__name__] == least])
                used[mutate.__name__] += 1
                before = len(doc.labels)
                mutate(rng, doc)
                for label in doc.labels[before:]:
                    label["by"] = mutate.__name__
        out.append(
            {
                "id": f"gen-{n + 1:03d}",
                "kind": kind,
                "doc_type": kind if rng.random() < 0.3 else None,
                "text": "\n".join(doc.lines).rstrip() + "\n",
                "errors": sorted(
                    ({"code": lb["code"], "line": lb["line"]} for lb in doc.labels), key=lambda lb: lb["line"]
                ),
            }
        )
    return out


def main() -> None:
    docs = generate()
    (HERE / "generated.json").write_text(json.dumps(docs, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    seeded = sum(1 for d in docs if d["errors"])
    print(f"{len(docs)} documents, {seeded} with seeded mistakes, {sum(len(d['errors']) for d in docs)} labels")


if __name__ == "__main__":
    main()
