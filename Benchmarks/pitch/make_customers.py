"""100 varied customers for measuring `generate pitch` on the demo model: half with names, jobs and
products from the demo corpus's lists (recipe/make_corpus.py), half from outside them; half English,
half Chinese. usage: python3 make_customers.py OUT.csv [N] [SEED]"""
import csv, random, sys

EN_NAMES_IN = ["Olivia Brown", "James Smith", "Mary Johnson", "David Garcia", "Emily Davis", "Noah Wilson", "Chloe Martin", "Liam Clark"]
EN_NAMES_OUT = ["Anna Lee", "Fatima Okafor", "Hiroshi Tanaka", "Lars Eriksson", "Priya Raman", "Mateo Alvarez", "Zoe Fitzgerald", "Kwame Mensah"]
ZH_NAMES_IN = ["张伟", "王芳", "李娜", "刘洋", "陈静", "欧阳晓东", "赵敏", "周杰"]
ZH_NAMES_OUT = ["郭子豪", "钟灵", "司徒雅", "唐嘉禾", "程小雨", "霍思远", "卢婉清", "温子墨"]
EN_PRODUCTS_IN = [("AuroraShot X2 mirrorless camera", "e-commerce"), ("SmartSave high-yield savings account", "finance"),
                  ("Applied AI bootcamp", "education"), ("SleepWell smart mattress", "healthcare"), ("Metro One studio loft", "real estate")]
EN_PRODUCTS_OUT = [("TrailPro hiking boots", "e-commerce"), ("NovaBank travel account", "finance"),
                   ("PianoPath online lessons", "education"), ("CalmMind meditation app", "healthcare"), ("Harbor View penthouse", "real estate")]
ZH_PRODUCTS_IN = [("人工智能实战训练营", "education"), ("智能储蓄高息账户", "finance"), ("滨江花园两居室", "real estate"),
                  ("高端年度体检套餐", "healthcare"), ("BrewMaster 咖啡机", "e-commerce")]
ZH_PRODUCTS_OUT = [("云端办公会员", "e-commerce"), ("稳盈理财计划", "finance"), ("少儿围棋课程", "education"),
                   ("康宁家庭护理服务", "healthcare"), ("湖畔花园三居室", "real estate")]
EN_JOBS = ["nurse", "teacher", "software engineer", "accountant", "chef", "pilot", "veterinarian", "electrician"]
ZH_JOBS = ["护士", "教师", "程序员", "会计", "厨师", "飞行员", "兽医", "电工"]
EN_INTERESTS = ["yoga", "travel", "hiking", "reading", "gaming", "chess", "sailing", "pottery"]
ZH_INTERESTS = ["瑜伽", "旅行", "徒步", "阅读", "游戏", "象棋", "帆船", "陶艺"]
EN_BEHAVIOUR = ["viewed high-end cameras", "compared savings accounts", "opened our spring newsletter", "asked about a discount",
                "downloaded a budgeting guide", "visited our store last weekend"]
ZH_BEHAVIOUR = ["浏览了高端相机", "比较了几款储蓄账户", "打开了我们的春季推送", "咨询了优惠活动", "下载了理财指南", "上周末到店参观"]

def main():
    out, n, seed = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 100, int(sys.argv[3]) if len(sys.argv) > 3 else 1
    rng = random.Random(seed)
    with open(out, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "name", "age", "gender", "job", "interests", "behavior", "product", "industry", "source"])
        for i in range(n):
            english, inside = i % 2 == 0, (i // 2) % 2 == 0
            names = (EN_NAMES_IN if inside else EN_NAMES_OUT) if english else (ZH_NAMES_IN if inside else ZH_NAMES_OUT)
            products = (EN_PRODUCTS_IN if inside else EN_PRODUCTS_OUT) if english else (ZH_PRODUCTS_IN if inside else ZH_PRODUCTS_OUT)
            product, industry = rng.choice(products)
            jobs, interests, behaviour = (EN_JOBS, EN_INTERESTS, EN_BEHAVIOUR) if english else (ZH_JOBS, ZH_INTERESTS, ZH_BEHAVIOUR)
            w.writerow([f"m{i:03d}", rng.choice(names), rng.randint(21, 70), rng.choice(["female", "male"]), rng.choice(jobs),
                        ", ".join(rng.sample(interests, 2)), rng.choice(behaviour), product, industry,
                        ("en" if english else "zh") + ("-corpus" if inside else "-new")])

main()
