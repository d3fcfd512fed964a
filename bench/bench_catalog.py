"""Catalog search over 100,000 synthetic published resources, on SQLite and PostgreSQL.

For each backend a child process (so each has its own Django settings) migrates a throwaway
database — a temporary SQLite file, or ``tongban_bench_cat_<pid>`` on
postgres://postgres@127.0.0.1:5432, dropped afterwards — bulk-loads the resources and their
search index, then times the real search service (``services.search_resources``, page of 20,
ranked, with the match count) for narrow and broad Chinese queries, against a plain
``LIKE '%…%'`` scan over name and abstract as the baseline. It also reports how many of the top
20 results carry the query in their name (relevance: names before abstracts before items), and
times public searches with facets, a filtered broad query and pages past the ranked head.

Synthetic text is assembled from fragments; each fragment is segmented once with the catalog's
jieba tokenizer and the words concatenated, which keeps generating 100k documents to seconds.

    .venv/bin/python bench/run.py bench_catalog
    .venv/bin/python bench/bench_catalog.py --resources 20000   # one quick run, both backends
"""

from __future__ import annotations

import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESOURCES = 100_000
QUERIES = ["古树名木", "船舶检验", "婚姻登记", "企业", "人口", "信息", "数据", "企业 信息"]
RUNS = 40
BASELINE_RUNS = 8
PG_URL = os.environ.get("TONGBAN_BENCH_PG", "postgres://postgres@127.0.0.1:5432")

CITIES = ["杭州市", "宁波市", "温州市", "嘉兴市", "湖州市", "绍兴市", "金华市", "衢州市", "舟山市", "台州市", "丽水市",
          "西湖区", "滨江区", "鄞州区", "瑞安市", "义乌市", "余杭区", "萧山区", ""]
SUBJECTS = (["企业", "个体工商户", "社会组织", "医疗机构", "学校", "养老机构", "农业合作社", "药品经营企业"] * 3
            + ["人口", "户籍人口", "流动人口", "残疾人", "退役军人", "低保对象", "新生儿", "老年人", "参保人员"] * 2
            + ["道路", "桥梁", "河道", "港口", "船舶", "车辆", "公交线路", "充电桩", "停车场", "公园"])
TOPICS = ["登记", "许可", "备案", "年报", "处罚", "补贴", "缴费", "参保", "检验", "抽查", "评价", "统计", "监测",
          "认定", "变更", "注销", "资质", "信用", "考核", "巡查"]
RARE = [("古树名木", 400), ("船舶检验", 150), ("婚姻登记", 300)]  # (phrase, number of resources named so)
KINDS = ["信息", "信息", "信息", "数据", "记录", "名录", "台账", "目录"]
ABSTRACTS = [
    "{subject}{topic}的基本情况，包括名称、地址和状态，按{cycle}更新，数据来源于部门业务系统。",
    "本资源记录{city}{subject}{topic}结果，供相关部门依法履职时共享使用。",
    "汇聚{subject}相关{topic}数据，用于监管、统计分析和公共服务，涉及企业和个人信息的按规定脱敏。",
    "{city}范围内{subject}{topic}情况的明细信息，由业务部门归集至公共数据平台。",
    "反映{subject}{topic}办理情况的业务数据，支持一网通办事项免交材料。",
]
ITEMS = ["统一社会信用代码", "公民身份号码", "姓名", "单位名称", "法定代表人", "地址", "联系电话", "登记日期", "有效期至",
         "证照编号", "许可事项", "经营范围", "行政区划代码", "状态", "更新时间", "金额", "人数", "面积", "类别", "备注"]
CYCLES = ["实时", "每日", "每月", "每季度", "每年"]


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


# --- child: one backend ----------------------------------------------------------------------------------


def _generate(count: int, departments: list, seed: int = 7):
    from tongban.catalog import segment

    rng = random.Random(seed)
    cache: dict[str, list[str]] = {}

    def words(*fragments: str) -> list[str]:
        out: list[str] = []
        for fragment in fragments:
            if fragment not in cache:
                cache[fragment] = segment.index_words(fragment)
            out.extend(cache[fragment])
        return out

    rare = [phrase for phrase, n in RARE for _ in range(n)]
    rare_at = set(rng.sample(range(count), len(rare)))
    rare_iter = iter(rare)
    for n in range(count):
        department = departments[n % len(departments)]
        city, subject, topic, kind = (rng.choice(CITIES), rng.choice(SUBJECTS), rng.choice(TOPICS), rng.choice(KINDS))
        if n in rare_at:
            subject, topic = next(rare_iter), rng.choice(["养护", "保护", "证书", "监管", "登记"])
        name = f"{city}{subject}{topic}{kind}"
        cycle = rng.choice(CYCLES)
        abstract = rng.choice(ABSTRACTS).format(subject=subject, topic=topic, cycle=cycle, city=city or "全省")
        keywords = [subject, topic, rng.choice(TOPICS)]
        items = rng.sample(ITEMS, rng.randint(3, 8))
        document = {
            "name": words(city, subject, topic, kind),
            "keywords": words(*keywords),
            "abstract": words(*abstract.replace("，", " ").replace("。", " ").split()),
            "provider": words(department.name),
            "items": words(*items),
        }
        yield n, department, name, abstract, keywords, document


def _load(count: int) -> float:
    import django
    from django.core.management import call_command
    from django.db import connection, transaction
    from django.utils import timezone

    django.setup()
    call_command("migrate", verbosity=0)
    from tongban.catalog import search
    from tongban.catalog.models import Resource
    from tongban.identity.generators import make_uscc
    from tongban.identity.models import Department, Region

    start = time.perf_counter()
    region, _ = Region.objects.get_or_create(code="330000", defaults={"name": "浙江省", "level": "province"})
    departments = []
    for n, name in enumerate(["市场监督管理局", "卫生健康委员会", "人力资源和社会保障局", "民政局", "交通运输局", "自然资源局",
                              "住房和城乡建设局", "农业农村局", "生态环境局", "教育局", "公安局", "税务局"]):
        department, _ = Department.objects.get_or_create(
            code=f"bench-{n:02d}", defaults={"name": f"浙江省{name}", "uscc": make_uscc("330000", 50_000 + n, "1", "1"),
                                             "region": region, "level": "province"})
        departments.append(department)
    now = timezone.now()
    batch, index_rows = [], []
    sharing = ["open_share", "conditional", "conditional", "no_share"]
    opening = {"open_share": "open", "conditional": "conditional", "no_share": "closed"}
    with transaction.atomic():
        for n, department, name, abstract, keywords, document in _generate(count, departments):
            share = sharing[n % 4]
            batch.append(Resource(
                code=f"{department.code}-{n:06d}", version=1, status="published", department=department, name=name,
                abstract=abstract, sharing=share, sharing_basis="" if share == "open_share" else "《浙江省公共数据条例》",
                opening=opening[share] if n % 3 else "closed", update_cycle="daily", theme="market", keywords=keywords,
                published_at=now, quality_score=60))
            index_rows.append(document)
            if len(batch) == 5000:
                _flush(batch, index_rows, search)
                batch, index_rows = [], []
        if batch:
            _flush(batch, index_rows, search)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    return time.perf_counter() - start


def _flush(batch, documents, search) -> None:
    from tongban.catalog.models import Resource

    created = Resource.objects.bulk_create(batch)
    if created[0].pk is None:  # backends that do not return ids: look them up by code
        ids = dict(Resource.objects.filter(code__in=[r.code for r in batch]).values_list("code", "pk"))
        for resource in created:
            resource.pk = ids[resource.code]
    search.bulk_index(list(zip(created, documents, strict=True)))


def _measure(count: int, label: str) -> list[dict]:
    from django.db import connection

    load_seconds = _load(count)
    from tongban.catalog import search, services
    from tongban.identity.access import ANONYMOUS, Actor

    signed_in = Actor(kind="official", user_id=1, username="bench", department_id=None)
    rows = [{"name": f"{label}: load {count:,} resources + index", "value": load_seconds, "unit": "s"}]
    for query in QUERIES:
        services.search_resources(signed_in, query)  # warm caches
        timings, result = [], None
        for _ in range(RUNS):
            start = time.perf_counter()
            result = services.search_resources(signed_in, query, page_size=20)
            timings.append((time.perf_counter() - start) * 1000)
        baseline = []
        first = query.split()[0]
        for _ in range(BASELINE_RUNS):
            start = time.perf_counter()
            search.like_scan(first)
            baseline.append((time.perf_counter() - start) * 1000)
        p95, base95 = _percentile(timings, 0.95), _percentile(baseline, 0.95)
        words = query.split()
        in_name = sum(1 for r in result.items if all(w in r.name for w in words))
        rows.append({"name": f"{label}: '{query}' p50", "value": statistics.median(timings), "unit": "ms"})
        rows.append({"name": f"{label}: '{query}' p95 ({result.count:,} matches)", "value": p95, "unit": "ms",
                     "baseline": base95, "ratio": base95 / p95 if p95 else None})
        rows.append({"name": f"{label}: '{query}' top-20 with query in name", "value": in_name, "unit": "of 20"})
    for query in ("企业", "古树名木"):
        timings = []
        for _ in range(RUNS // 2):
            start = time.perf_counter()
            services.search_resources(ANONYMOUS, query, with_facets=True)
            timings.append((time.perf_counter() - start) * 1000)
        rows.append({"name": f"{label}: public '{query}' + facets p95", "value": _percentile(timings, 0.95),
                     "unit": "ms"})
    # Filtered broad queries and pages past the ranked head (search.CANDIDATES).
    for title, actor, query, options in [
        ("'信息' sharing=conditional + facets", signed_in, "信息", {"sharing": "conditional", "with_facets": True}),
        ("public '企业 信息' + facets", ANONYMOUS, "企业 信息", {"with_facets": True}),
        ("'企业' page 200 (past the head)", signed_in, "企业", {"page": 200}),
        ("'企业' department page 60 (past the head)", signed_in, "企业", {"department": "bench-03", "page": 60}),
    ]:
        services.search_resources(actor, query, **options)
        timings = []
        for _ in range(RUNS // 2):
            start = time.perf_counter()
            result = services.search_resources(actor, query, **options)
            timings.append((time.perf_counter() - start) * 1000)
        rows.append({"name": f"{label}: {title} p95 ({len(result.items)} on page)",
                     "value": _percentile(timings, 0.95), "unit": "ms"})
    timings = []
    for _ in range(RUNS // 2):
        start = time.perf_counter()
        services.search_resources(signed_in, "", page_size=20)
        timings.append((time.perf_counter() - start) * 1000)
    rows.append({"name": f"{label}: browse (no query) p95", "value": _percentile(timings, 0.95), "unit": "ms"})
    connection.close()
    return rows


def _child(count: int, label: str) -> None:
    rows = _measure(count, label)
    print("BENCH-ROWS " + json.dumps(rows, ensure_ascii=False), flush=True)


# --- parent --------------------------------------------------------------------------------------------------


def _run_child(env: dict, count: int, label: str) -> list[dict]:
    src = str(HERE.parent / "src")
    env = {**env, "DJANGO_SETTINGS_MODULE": "tongban.site.settings", "TONGBAN_LEDGER_INTEGRATE_ON_COMMIT": "0",
           "PYTHONPATH": src + os.pathsep + os.environ.get("PYTHONPATH", "")}
    done = subprocess.run([sys.executable, __file__, "--child", label, "--resources", str(count)], env=env,
                          capture_output=True, text=True, timeout=1800)
    for line in done.stdout.splitlines():
        if line.startswith("BENCH-ROWS "):
            return json.loads(line[len("BENCH-ROWS "):])
    sys.stderr.write(done.stdout[-3000:] + done.stderr[-5000:])
    return [{"name": f"{label}: failed (see stderr)", "value": float("nan"), "unit": ""}]


def run(count: int = RESOURCES) -> list[dict]:
    rows: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="tongban-bench-cat-") as data_dir:
        child_env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
        child_env["TONGBAN_DATA_DIR"] = data_dir
        rows += _run_child(child_env, count, "sqlite")
        database = f"tongban_bench_cat_{os.getpid()}"
        admin = ["psql", "-X", "-q", "-h", "127.0.0.1", "-U", "postgres", "-d", "postgres", "-c"]
        if subprocess.run([*admin, f"CREATE DATABASE {database}"], capture_output=True).returncode == 0:
            try:
                rows += _run_child({**child_env, "DATABASE_URL": f"{PG_URL}/{database}"}, count, "postgresql")
            finally:
                subprocess.run([*admin, f"DROP DATABASE IF EXISTS {database}"], capture_output=True)
        else:
            rows.append({"name": "postgresql: not reachable, skipped", "value": float("nan"), "unit": ""})
    return rows


if __name__ == "__main__":
    args = sys.argv[1:]
    count = int(args[args.index("--resources") + 1]) if "--resources" in args else RESOURCES
    if "--child" in args:
        _child(count, args[args.index("--child") + 1])
    else:
        for row in run(count):
            extra = f"  (LIKE baseline {row['baseline']:.1f} ms, {row['ratio']:.1f}x)" if row.get("baseline") else ""
            print(f"{row['name']:<60} {row['value']:>10.2f} {row['unit']}{extra}")
