"""Hardware inventory and ageing: computers per unit by kind, operating systems, CPU, memory and
disk summaries, age buckets, the gaps between the register and the agents, printers per office.

A computer's age counts from its purchase date in the register, else from its BIOS release date
(a lower bound: a firmware update resets it). It is *ageing* from ``reports.ageing_years``
(config.yaml, 5 by default). Memory is what the OS can use (slightly below the installed sum),
so the buckets are cut half a gigabyte below the usual module sizes. The two gap listings keep
the first 500 rows in every format and say how many more there are.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from sqlalchemy.orm import Session

from controller.reports.base import ReportContext
from controller.reports.definitions import audit_layout as lay
from controller.reports.document import (
    Chart,
    Column,
    Document,
    Figure,
    Figures,
    Ratio,
    Row,
    Section,
    Series,
    T,
    Table,
    Value,
)
from controller.reports.period import local_day
from controller.reports.registry import register
from controller.store.dashboard._common import COMPUTER_KINDS, office_equipment
from controller.store.reporting import hardware as q
from controller.store.reporting.audit_common import (
    HeaderFacts,
    TreeUnit,
    header_facts,
    report_tree,
    roll_up,
)

#: Rows of each gap listing (register without agent, agents not in the register).
LIST_CAP = 500
#: CPU models listed by name; the rest are counted together.
CPU_MODELS = 10
GIB = 1 << 30
#: (upper bound in bytes, vi, en): usable memory sits a little below the installed modules.
MEMORY_BUCKETS = (
    (int(3.5 * GIB), "dưới 4 GB", "under 4 GB"),
    (int(7.5 * GIB), "4 đến dưới 8 GB", "4 to 8 GB"),
    (int(15.5 * GIB), "8 đến dưới 16 GB", "8 to 16 GB"),
    (None, "từ 16 GB", "16 GB or more"),
)
#: Disk capacity as vendors count it (decimal).
DISK_BUCKETS = (
    (250 * 10**9, "dưới 250 GB", "under 250 GB"),
    (500 * 10**9, "250 đến dưới 500 GB", "250 to 500 GB"),
    (1000 * 10**9, "500 GB đến dưới 1 TB", "500 GB to 1 TB"),
    (None, "từ 1 TB", "1 TB or more"),
)
UNKNOWN = T("không rõ", "unknown")
KIND_TEXT = {
    "desktop": T("Máy để bàn", "Desktop"),
    "laptop": T("Máy xách tay", "Laptop"),
    "all_in_one": T("Máy tất cả trong một", "All-in-one"),
}
MEDIA_TEXT = {"ssd": T("SSD", "SSD"), "hdd": T("HDD (ổ cơ)", "HDD (spinning)")}
WITHHELD = T("(không ghi)", "(withheld)")


@dataclass(frozen=True, slots=True)
class UnitInventory:
    """One unit of the tree, its subtree's computers rolled up."""

    unit: TreeUnit
    by_kind: Mapping[str, int]
    unregistered: int
    #: Computers of ageing_years or more, of those whose age is known.
    ageing: Ratio

    @property
    def total(self) -> int:
        """Every computer of the subtree (registered or not)."""
        return sum(self.by_kind.values()) + self.unregistered


@dataclass(frozen=True, slots=True)
class Bucket:
    """One line of a distribution: a label and how many computers fall in it."""

    label: T
    count: int
    #: The same in a few language-neutral characters (a chart's axis): "< 3", "3–5", "≥ 5".
    short: str = ""


@dataclass(frozen=True, slots=True)
class OfficeEquipment:
    """Computers and printers of one office."""

    unit_id: str
    unit_name: str
    office_id: str
    office_name: str
    computers: int
    printers: int


@dataclass(frozen=True, slots=True)
class HardwareResult:
    """Everything the hardware inventory report shows."""

    header: HeaderFacts
    today: date
    ageing_years: int
    units: tuple[UnitInventory, ...]
    operating_systems: tuple[tuple[str | None, str | None, int], ...]
    memory: tuple[Bucket, ...]
    disks: tuple[Bucket, ...]
    media: tuple[Bucket, ...]
    cpus: tuple[Bucket, ...]
    ages: tuple[Bucket, ...]
    agentless: tuple[q.AgentlessAsset, ...]
    agentless_total: int
    unregistered: tuple[q.UnregisteredAgent, ...]
    unregistered_total: int
    offices: tuple[OfficeEquipment, ...]

    @property
    def computers(self) -> int:
        """Every computer of the scope."""
        return sum(u.total for u in self.units if u.unit.depth == 0)


def _bucket(value: int | None, buckets: tuple[tuple[int | None, str, str], ...]) -> int:
    """Index of ``value``'s bucket; ``len(buckets)`` for unknown."""
    if value is None:
        return len(buckets)
    for i, (bound, _, _) in enumerate(buckets):
        if bound is None or value < bound:
            return i
    return len(buckets) - 1


def age_buckets(years: int) -> tuple[tuple[float | None, T, str], ...]:
    """``(upper bound in years, label, short label)`` of the age distribution for an ageing
    threshold of ``years``."""
    young = min(3, years)
    buckets: list[tuple[float | None, T, str]] = [
        (young, T(f"dưới {young} năm", f"under {young} years"), f"< {young}")
    ]
    if years > young:
        buckets.append(
            (
                years,
                T(f"{young} đến dưới {years} năm", f"{young} to {years} years"),
                f"{young}–{years}",
            )
        )
    buckets.append(
        (None, T(f"từ {years} năm (quá hạn)", f"{years} years or more (ageing)"), f"≥ {years}")
    )
    return tuple(buckets)


def age_years(since: date | None, today: date) -> float | None:
    """Years from ``since`` to ``today`` (None when unknown)."""
    return None if since is None else (today - since).days / 365.25


def compute(s: Session, ctx: ReportContext) -> HardwareResult:
    """The hardware inventory of ``ctx.scope`` at ``ctx.now``."""
    today = local_day(ctx.now)
    years = ctx.settings.ageing_years
    tree = report_tree(s, ctx.scope)
    ages = age_buckets(years)
    kinds = list(COMPUTER_KINDS)
    # Per unit: one count per kind, unregistered, ageing, known age.
    own: dict[str, list[int]] = {}
    memory = [0] * (len(MEMORY_BUCKETS) + 1)
    disks = [0] * (len(DISK_BUCKETS) + 1)
    age_counts = [0] * (len(ages) + 1)
    media: Counter[str | None] = Counter()
    cpus: Counter[str | None] = Counter()
    ctx.progress(0, 4, "computers")
    for c in q.computers(s, ctx.scope):
        slot = own.setdefault(c.unit_id, [0] * (len(kinds) + 3))
        slot[kinds.index(c.kind) if c.kind in kinds else len(kinds)] += 1
        age = age_years(c.purchased_at or c.specs.bios_date, today)
        if age is not None:
            slot[len(kinds) + 2] += 1
            if age >= years:
                slot[len(kinds) + 1] += 1
            age_counts[
                next(i for i, (bound, _, _) in enumerate(ages) if bound is None or age < bound)
            ] += 1
        else:
            age_counts[-1] += 1
        if c.agent_id is None:
            continue
        memory[_bucket(c.specs.memory_bytes, MEMORY_BUCKETS)] += 1
        disks[_bucket(c.specs.disk_bytes, DISK_BUCKETS)] += 1
        media[c.specs.disk_media] += 1
        cpus[c.specs.cpu_model] += 1
    ctx.progress(1, 4, "operating systems")
    rolled = roll_up(tree, {uid: tuple(v) for uid, v in own.items()})
    width = len(kinds) + 3
    units = []
    for u in tree:
        sums = rolled.get(u.id) or (0,) * width
        units.append(
            UnitInventory(
                unit=u,
                by_kind=dict(zip(kinds, sums, strict=False)),
                unregistered=sums[len(kinds)],
                ageing=Ratio(sums[len(kinds) + 1], sums[len(kinds) + 2]),
            )
        )
    systems = tuple(q.operating_systems(s, ctx.scope))
    ctx.progress(2, 4, "register gaps")
    agentless, agentless_total = q.agentless_assets(s, ctx.scope, LIST_CAP)
    unregistered, unregistered_total = q.unregistered_agents(s, ctx.scope, LIST_CAP)
    ctx.progress(3, 4, "offices")
    names = {u.id: u.name for u in tree}
    office_names = q.office_names(s, ctx.scope)
    offices = tuple(
        OfficeEquipment(
            unit_id,
            names.get(unit_id, unit_id),
            office_id,
            office_names.get((unit_id, office_id), office_id),
            counts[0],
            counts[1],
        )
        for (unit_id, office_id), counts in sorted(
            office_equipment(s, ctx.scope).items(),
            key=lambda item: (names.get(item[0][0], item[0][0]), item[0][1]),
        )
    )
    ctx.progress(4, 4, "done")
    top = [(model, n) for model, n in cpus.most_common() if model is not None]
    cpu_buckets = [Bucket(T(model, model), n) for model, n in top[:CPU_MODELS]]
    if len(top) > CPU_MODELS:
        rest = sum(n for _, n in top[CPU_MODELS:])
        cpu_buckets.append(Bucket(T("các loại khác", "other models"), rest))
    if cpus[None]:
        cpu_buckets.append(Bucket(UNKNOWN, cpus[None]))
    return HardwareResult(
        header=header_facts(s, ctx.unit_id, ctx.scope, ctx.now),
        today=today,
        ageing_years=years,
        units=tuple(units),
        operating_systems=systems,
        memory=_buckets(memory, MEMORY_BUCKETS),
        disks=_buckets(disks, DISK_BUCKETS),
        media=tuple(
            Bucket(MEDIA_TEXT.get(key or "", UNKNOWN), media[key])
            for key in ("ssd", "hdd", None)
            if media[key]
        ),
        cpus=tuple(cpu_buckets),
        ages=(
            *(
                Bucket(label, n, short)
                for (_, label, short), n in zip(ages, age_counts, strict=False)
            ),
            Bucket(UNKNOWN, age_counts[-1], "?"),
        ),
        agentless=tuple(agentless),
        agentless_total=agentless_total,
        unregistered=tuple(unregistered),
        unregistered_total=unregistered_total,
        offices=offices,
    )


def _buckets(
    counts: list[int], buckets: tuple[tuple[int | None, str, str], ...]
) -> tuple[Bucket, ...]:
    labels = [T(vi, en) for _, vi, en in buckets] + [UNKNOWN]
    return tuple(Bucket(label, n) for label, n in zip(labels, counts, strict=True))


def _distribution(key: str, title: T, buckets: tuple[Bucket, ...]) -> Table:
    return Table(
        key,
        title,
        (Column("bucket", title), Column("computers", T("Số máy", "Computers"), "int")),
        tuple(Row((b.label, b.count)) for b in buckets),
        empty=T("Chưa có dữ liệu.", "No data yet."),
    )


def _more(shown: int, total: int) -> T | None:
    if total <= shown:
        return None
    return T(
        f"Liệt kê {shown} dòng đầu; còn {total - shown} dòng nữa.",
        f"The first {shown} rows are listed; and {total - shown} more.",
    )


def layout(result: HardwareResult, ctx: ReportContext) -> Document:
    """The hardware inventory laid out."""
    names = {u.unit.id: u.unit.name for u in result.units}
    roots = [u for u in result.units if u.unit.depth == 0]
    ageing = Ratio(sum(u.ageing.numerator for u in roots), sum(u.ageing.denominator for u in roots))
    known = int(ageing.denominator)
    summary = Figures(
        "summary",
        None,
        (
            Figure(T("Tổng số máy tính", "Computers"), result.computers, "int"),
            Figure(
                T(
                    f"Máy từ {result.ageing_years} năm tuổi",
                    f"Computers {result.ageing_years} years or older",
                ),
                ageing,
                "ratio",
                note=T(
                    f"trên {known} máy biết tuổi (ngày mua hoặc ngày BIOS)",
                    f"of {known} computers of known age (purchase or BIOS date)",
                ),
            ),
            Figure(
                T("Máy trong sổ tài sản chưa có agent", "Registered computers without an agent"),
                result.agentless_total,
                "int",
                "warn" if result.agentless_total else None,
            ),
            Figure(
                T("Agent chưa có trong sổ tài sản", "Agents not in the register"),
                result.unregistered_total,
                "int",
                "warn" if result.unregistered_total else None,
            ),
        ),
    )
    kinds = list(COMPUTER_KINDS)
    units = Table(
        "units",
        T("Máy tính theo đơn vị và loại", "Computers by unit and kind"),
        (
            lay.UNIT,
            *(Column(kind, KIND_TEXT[kind], "int") for kind in kinds),
            Column("unregistered", T("Chưa có trong sổ", "Not in the register"), "int"),
            Column("total", T("Tổng", "Total"), "int"),
            Column("ageing", T("Quá hạn sử dụng", "Ageing"), "ratio"),
        ),
        tuple(
            Row(
                (
                    u.unit.name,
                    *(u.by_kind.get(kind, 0) for kind in kinds),
                    u.unregistered,
                    u.total,
                    u.ageing,
                ),
                depth=u.unit.depth,
            )
            for u in result.units
        ),
        note=T(
            f"Quá hạn: từ {result.ageing_years} năm tuổi, trên số máy biết tuổi.",
            f"Ageing: {result.ageing_years} years or older, of the computers of known age.",
        ),
    )
    systems = Table(
        "os",
        T("Hệ điều hành", "Operating systems"),
        (
            Column("name", T("Hệ điều hành", "Operating system")),
            Column("version", T("Phiên bản", "Version")),
            Column("computers", T("Số máy", "Computers"), "int"),
        ),
        tuple(Row((name or UNKNOWN, version, n)) for name, version, n in result.operating_systems),
        empty=T("Chưa có agent nào báo cáo.", "No agent has reported yet."),
    )
    age_chart = Chart(
        "ages",
        T("Tuổi máy tính", "Computer age"),
        "bar",
        (Series(T("Số máy", "Computers"), tuple((b.short, float(b.count)) for b in result.ages)),),
        percent=False,
    )
    specs_note = T(
        "CPU, bộ nhớ và ổ đĩa lấy từ báo cáo đầy đủ gần nhất của mỗi agent.",
        "CPU, memory and disks come from each agent's last full report.",
    )
    hide = not ctx.show_locations
    withheld = hide and any(a.classified for a in result.agentless)
    agentless = Table(
        "agentless",
        T("Máy trong sổ tài sản chưa có agent", "Registered computers without an agent"),
        (
            Column("asset", T("Mã tài sản", "Asset id")),
            lay.UNIT,
            Column("kind", T("Loại", "Kind")),
            Column("office", T("Phòng", "Office")),
            Column("hostname", T("Tên máy", "Host name")),
            Column("classified", T("Máy mật", "Classified"), "bool"),
        ),
        tuple(
            Row(
                (
                    a.asset_id,
                    names.get(a.unit_id, a.unit_id),
                    KIND_TEXT.get(a.kind, T(a.kind, a.kind)),
                    *_where(a, hide),
                    a.classified,
                ),
                "warn",
            )
            for a in result.agentless
        ),
        note=_more(len(result.agentless), result.agentless_total),
        empty=T("Mọi máy trong sổ đều có agent.", "Every registered computer has an agent."),
    )
    unregistered = Table(
        "unregistered",
        T("Agent chưa có trong sổ tài sản", "Agents not in the register"),
        (
            Column("hostname", T("Tên máy", "Host name")),
            lay.UNIT,
            Column("os", T("Hệ điều hành", "Operating system")),
            Column("serial", T("Số sê-ri", "Serial")),
            Column("last_seen", T("Liên lạc lần cuối", "Last seen"), "datetime"),
        ),
        tuple(
            Row(
                (a.hostname, names.get(a.unit_id, a.unit_id), a.os_name, a.serial, a.last_seen_at),
                "warn",
            )
            for a in result.unregistered
        ),
        note=_more(len(result.unregistered), result.unregistered_total),
        empty=T("Mọi agent đều có trong sổ tài sản.", "Every agent is in the register."),
    )
    offices = Table(
        "offices",
        T("Máy tính và máy in theo phòng", "Computers and printers per office"),
        (
            lay.UNIT,
            Column("office", T("Phòng", "Office")),
            Column("computers", T("Máy tính", "Computers"), "int"),
            Column("printers", T("Máy in", "Printers"), "int"),
        ),
        tuple(
            Row(
                (o.unit_name, o.office_name, o.computers, o.printers),
                "ok" if o.computers and o.printers else "warn",
            )
            for o in result.offices
        ),
        empty=T("Sổ tài sản chưa có phòng nào.", "The register has no offices."),
    )
    return Document(
        report=HARDWARE.name,
        title=HARDWARE.title,
        header=lay.header(result.header, ctx),
        sections=(
            Section("summary", T("Tổng quan", "Summary"), (summary,)),
            Section("units", T("Theo đơn vị", "By unit"), (units,)),
            Section("os", T("Hệ điều hành", "Operating systems"), (systems,)),
            Section(
                "specs",
                T("Cấu hình", "Specifications"),
                (
                    _distribution("cpu", T("CPU", "CPU"), result.cpus),
                    _distribution("memory", T("Bộ nhớ", "Memory"), result.memory),
                    _distribution("disk_media", T("Loại ổ đĩa", "Disk type"), result.media),
                    _distribution(
                        "disk_size", T("Dung lượng ổ đĩa", "Disk capacity"), result.disks
                    ),
                ),
            ),
            Section(
                "ages",
                T("Tuổi máy", "Age"),
                (age_chart, _distribution("ages", T("Tuổi máy", "Age"), result.ages)),
            ),
            Section(
                "gaps",
                T("Đối chiếu sổ tài sản và agent", "Register and agents compared"),
                (agentless, unregistered),
            ),
            Section("offices", T("Theo phòng", "By office"), (offices,)),
        ),
        redacted=withheld,
        notes=(specs_note,),
    )


def _where(asset: q.AgentlessAsset, hide: bool) -> tuple[Value, Value]:
    if asset.classified and hide:
        return WITHHELD, WITHHELD
    return asset.office_id, asset.hostname


HARDWARE: lay.Definition[HardwareResult] = lay.Definition(
    "hardware",
    T("Báo cáo kiểm kê phần cứng và tuổi máy", "Hardware inventory and ageing report"),
    T(
        "Máy tính theo đơn vị và loại, hệ điều hành, cấu hình, tuổi máy, đối chiếu sổ tài sản "
        "với agent, máy in theo phòng.",
        "Computers by unit and kind, operating systems, specifications, age, the register "
        "compared with the agents, printers per office.",
    ),
    compute,
    layout,
)
register(HARDWARE)
