"""Write inventory/example-district.yaml: a made-up but realistic district (deterministic).

The district is modelled on the seed: the legacy district of Chợ Mới (Bắc Kạn, in Thái Nguyên
since the 2025 merger), its People's Committee with divisions and boards, 18 communes and a
township, a few hundred computers (some classified), printers, copiers, switches and routers.
People, serials and MACs are invented. Run: ``python scripts/make_example_district.py``.
"""

from __future__ import annotations

import random
import uuid
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import yaml

OUT = Path(__file__).resolve().parent.parent / "inventory" / "example-district.yaml"
RNG = random.Random(20250701)  # noqa: S311 - invented example data, not security

COMMUNES = [
    ("tt-dong-tam", "Thị trấn Đồng Tâm", "township"),
    *[
        (f"xa-{slug}", f"Xã {name}", "commune")
        for slug, name in [
            ("yen-dinh", "Yên Đĩnh"),
            ("nhu-co", "Như Cố"),
            ("binh-van", "Bình Văn"),
            ("quang-chu", "Quảng Chu"),
            ("yen-han", "Yên Hân"),
            ("thanh-van", "Thanh Vận"),
            ("hoa-muc", "Hòa Mục"),
            ("thanh-mai", "Thanh Mai"),
            ("cao-ky", "Cao Kỳ"),
            ("nong-ha", "Nông Hạ"),
            ("yen-cu", "Yên Cư"),
            ("thanh-thinh", "Thanh Thịnh"),
            ("mai-lap", "Mai Lạp"),
            ("tan-son", "Tân Sơn"),
            ("quang-thuan", "Quang Thuận"),
            ("thanh-binh", "Thanh Bình"),
            ("nong-thinh", "Nông Thịnh"),
            ("con-minh", "Côn Minh"),
        ]
    ],
]
COMMUNE_OFFICES = [
    ("lanh-dao", "Lãnh đạo UBND", 3, 0),
    ("van-phong", "Văn phòng - Thống kê", 0, 2),
    ("mot-cua", "Bộ phận Một cửa", 0, 2),
    ("dia-chinh", "Địa chính - Xây dựng - Nông nghiệp - Môi trường", 0, 2),
    ("tu-phap", "Tư pháp - Hộ tịch", 0, 2),
    ("tai-chinh", "Tài chính - Kế toán", 0, 1),
    ("van-hoa-xa-hoi", "Văn hóa - Xã hội", 0, 2),
]
DIVISIONS = [
    ("van-phong", "Văn phòng HĐND và UBND huyện", "division", 14),
    ("phong-noi-vu", "Phòng Nội vụ", "division", 7),
    ("phong-tai-chinh-ke-hoach", "Phòng Tài chính - Kế hoạch", "division", 9),
    ("phong-van-hoa-thong-tin", "Phòng Văn hóa và Thông tin", "division", 6),
    ("phong-tu-phap", "Phòng Tư pháp", "division", 4),
    ("phong-tai-nguyen-moi-truong", "Phòng Tài nguyên và Môi trường", "division", 8),
    ("phong-kinh-te-ha-tang", "Phòng Kinh tế và Hạ tầng", "division", 7),
    ("phong-nong-nghiep", "Phòng Nông nghiệp và Phát triển nông thôn", "division", 7),
    ("phong-giao-duc", "Phòng Giáo dục và Đào tạo", "division", 9),
    ("phong-lao-dong", "Phòng Lao động - Thương binh và Xã hội", "division", 6),
    ("phong-y-te", "Phòng Y tế", "division", 3),
    ("phong-dan-toc", "Phòng Dân tộc", "division", 3),
    ("thanh-tra", "Thanh tra huyện", "division", 5),
    ("ban-qlda", "Ban Quản lý dự án đầu tư xây dựng", "board", 8),
]
FAMILY = [
    "Nguyễn",
    "Hoàng",
    "Triệu",
    "Nông",
    "Lục",
    "Hà",
    "Ma",
    "Đàm",
    "Lưu",
    "Phạm",
    "Trần",
    "Lý",
    "Bế",
    "Dương",
    "Lương",
    "Đinh",
    "Vi",
    "Lê",
]
MIDDLE_M = ["Văn", "Đức", "Minh", "Quốc", "Hữu", "Xuân", "Thanh"]
MIDDLE_F = ["Thị", "Thu", "Thanh", "Ngọc", "Hồng", "Bích"]
GIVEN_M = [
    "Hùng",
    "Dũng",
    "Tuấn",
    "Thắng",
    "Cường",
    "Hải",
    "Long",
    "Nam",
    "Sơn",
    "Tiến",
    "Quang",
    "Toàn",
    "Việt",
    "Khánh",
    "Bình",
    "Thành",
]
GIVEN_F = [
    "Lan",
    "Hoa",
    "Hương",
    "Mai",
    "Hằng",
    "Thảo",
    "Nhung",
    "Yến",
    "Trang",
    "Ngân",
    "Huyền",
    "Liên",
    "Phương",
    "Dung",
    "Hạnh",
    "Oanh",
]
MODELS = {
    "desktop": [
        "Dell OptiPlex 3080",
        "HP ProDesk 400 G7",
        "Lenovo ThinkCentre M70t",
        "FPT Elead T5500",
        "CMS X-Media",
    ],
    "laptop": ["Dell Latitude 3420", "HP ProBook 440 G8", "Lenovo ThinkPad E14"],
    "all_in_one": ["HP ProOne 400 G6", "Dell OptiPlex 5490 AIO"],
    "printer": ["Canon LBP 2900", "HP LaserJet Pro M404dn", "Brother HL-L2321D"],
    "copier": ["Ricoh MP 2014AD", "Canon iR 2206N"],
    "scanner": ["Canon DR-C225 II", "Plustek PS186"],
}
CA_PERSONAL = "Cơ quan chứng thực số chuyên dùng Chính phủ"
CA_ORG = "Ban Cơ yếu Chính phủ"


class Builder:
    """Accumulates the file's lists; ids and serials are unique by construction."""

    def __init__(self) -> None:
        self.doc: dict[str, Any] = {
            "schema_version": 1,
            "title": "Huyện Chợ Mới (cũ), tỉnh Thái Nguyên: ví dụ",
            "units": [],
            "officials": [],
            "snmp_credentials": [
                {
                    "name": "snmp-xa-v2c",
                    "version": "v2c",
                    "description": "Chỉ đọc, thiết bị mạng cấp xã",
                },
                {
                    "name": "snmp-huyen-v3",
                    "version": "v3",
                    "description": "SNMPv3 authPriv, thiết bị mạng trụ sở huyện",
                },
            ],
            "assets": [],
            "network_devices": [],
        }
        self.people = 0
        self.serial = 0
        self.used_names: set[tuple[str, str]] = set()

    def mac(self, oui: str) -> str:
        tail = ":".join(f"{RNG.randrange(256):02x}" for _ in range(3))
        return f"{oui}:{tail}"

    def person(self, unit: str, office: str, position: str, roles: list[str], category: str) -> str:
        female = RNG.random() < 0.45
        while True:
            name = " ".join(
                (
                    RNG.choice(FAMILY),
                    RNG.choice(MIDDLE_F if female else MIDDLE_M),
                    RNG.choice(GIVEN_F if female else GIVEN_M),
                )
            )
            if (unit, name) not in self.used_names:
                self.used_names.add((unit, name))
                break
        self.people += 1
        official_id = f"cb-{self.people:04d}"
        entry: dict[str, Any] = {
            "id": official_id,
            "name": name,
            "unit": unit,
            "office": office,
            "position": position,
            "category": category,
        }
        if roles:
            entry["roles"] = roles
        if "signing_leader" in roles:
            expired = RNG.random() < 0.1
            expires = date(2026, 1, 1) + timedelta(days=RNG.randrange(0 if expired else 400, 1200))
            if expired:
                expires = date(2025, 6, 1) + timedelta(days=RNG.randrange(0, 150))
            entry["personal_certificate"] = {
                "status": "expired" if expired else "valid",
                "issuer": CA_PERSONAL,
                "serial": f"54{RNG.randrange(16**14):014x}",
                "expires_on": expires.isoformat(),
            }
        self.doc["officials"].append(entry)
        return official_id

    def asset(self, unit: str, office: str, kind: str, number: int, **extra: Any) -> str:
        short = {"desktop": "pc", "laptop": "pc", "all_in_one": "pc"}.get(kind, kind)
        asset_id = f"{unit}-{short}-{number:02d}"
        self.serial += 1
        entry: dict[str, Any] = {"id": asset_id, "kind": kind, "unit": unit, "office": office}
        if short == "pc":
            entry["hostname"] = f"{unit[:10].upper().rstrip('-')}-PC{number:02d}"
            entry["macs"] = [self.mac("d8:9e:f3")]
            if kind == "laptop":
                entry["macs"].append(self.mac("f4:8c:50"))
            entry["machine_id"] = str(uuid.UUID(int=RNG.getrandbits(128), version=4))
        entry["serial"] = f"VN{self.serial:06d}{RNG.choice('ABCDEFGHJK')}"
        entry["model"] = RNG.choice(MODELS[kind])
        entry["purchased_at"] = (date(2016, 1, 1) + timedelta(days=RNG.randrange(3300))).isoformat()
        entry.update(extra)
        self.doc["assets"].append(entry)
        return asset_id

    def unit(self, unit_id: str, name: str, kind: str, parent: str | None, **extra: Any) -> None:
        entry: dict[str, Any] = {"id": unit_id, "name": name, "kind": kind}
        if parent:
            entry["parent"] = parent
        entry.update(extra)
        self.doc["units"].append(entry)


def org_cert(b: Builder) -> dict[str, str]:
    expires = date(2026, 3, 1) + timedelta(days=RNG.randrange(900))
    return {
        "issuer": CA_ORG,
        "serial": f"54{RNG.randrange(16**14):014x}",
        "expires_on": expires.isoformat(),
    }


def classified_extra(approved: date) -> dict[str, Any]:
    reviewed = approved + timedelta(days=RNG.randrange(0, 500))
    return {
        "classification": "classified",
        "tags": ["may-mat"],
        "security_plan_ref": f"PA-BMNN-{approved.year}-{RNG.randrange(1, 60):02d}",
        "security_plan_approved_at": approved.isoformat(),
        "security_plan_reviewed_at": min(reviewed, date(2026, 11, 1)).isoformat(),
    }


def build_district(b: Builder) -> None:
    committee = "ubnd-huyen-cho-moi"
    b.unit(
        committee,
        "UBND huyện Chợ Mới",
        "district_committee",
        "huyen-cho-moi",
        code="063",
        organisational_certificate=org_cert(b),
    )
    for slug, name, kind, staff in DIVISIONS:
        unit_id = f"huyen-cho-moi-{slug}"
        vien_chuc = staff if kind == "board" else 0
        cong_chuc = 0 if kind == "board" else staff
        offices = [
            {
                "id": "lanh-dao",
                "name": "Lãnh đạo",
                "headcount": {"cong_chuc": min(2, cong_chuc), "vien_chuc": min(2, vien_chuc)},
            },
            {
                "id": "chuyen-vien",
                "name": "Chuyên viên",
                "headcount": {
                    "cong_chuc": max(cong_chuc - 2, 0),
                    "vien_chuc": max(vien_chuc - 2, 0),
                },
            },
        ]
        b.unit(
            unit_id,
            name,
            kind,
            committee,
            offices=offices,
            headcount={"can_bo": 0, "cong_chuc": cong_chuc, "vien_chuc": vien_chuc},
            organisational_certificate=org_cert(b),
        )
        category = "vien_chuc" if kind == "board" else "cong_chuc"
        head = b.person(
            unit_id,
            "lanh-dao",
            "Trưởng phòng" if kind == "division" else "Giám đốc",
            ["key_official", "signing_leader"],
            category,
        )
        deputy = b.person(unit_id, "lanh-dao", "Phó Trưởng phòng", ["signing_leader"], category)
        number = 1
        for user in (head, deputy):
            b.asset(unit_id, "lanh-dao", "desktop", number, assigned_user=user, tags=["signing-pc"])
            number += 1
        clerk = None
        for i in range(staff - 2):
            roles = ["clerk"] if i == 0 and slug == "van-phong" else []
            user = b.person(unit_id, "chuyen-vien", "Chuyên viên", roles, category)
            clerk = clerk or (user if roles else None)
            kind_pc = RNG.choices(["desktop", "laptop", "all_in_one"], [6, 2, 1])[0]
            if RNG.random() < 0.9:  # a few officials still share a computer
                b.asset(unit_id, "chuyen-vien", kind_pc, number, assigned_user=user)
                number += 1
        b.asset(unit_id, "chuyen-vien", "printer", 1)
        if staff > 6:
            b.asset(unit_id, "lanh-dao", "printer", 2)
        if slug == "van-phong":
            # The Office drafts secret documents on two air-gapped PCs and copies them on a
            # copier reserved for them.
            for n in range(2):
                b.asset(
                    unit_id,
                    "chuyen-vien",
                    "desktop",
                    90 + n,
                    assigned_user=clerk,
                    **classified_extra(date(2024, 3, 15)),
                )
            b.asset(
                unit_id, "chuyen-vien", "copier", 1, for_secret_use=True, tags=["for-secret-use"]
            )
            b.asset(unit_id, "chuyen-vien", "copier", 2)
            b.asset(unit_id, "chuyen-vien", "scanner", 1)
    devices = b.doc["network_devices"]
    devices.append(
        {
            "id": "huyen-cho-moi-fw-01",
            "kind": "firewall",
            "name": "Tường lửa trụ sở",
            "unit": committee,
            "ip": "10.63.0.1",
            "macs": [b.mac("00:09:0f")],
            "model": "Fortinet FortiGate 60F",
            "snmp_credential": "snmp-huyen-v3",
        }
    )
    for n in range(1, 5):
        devices.append(
            {
                "id": f"huyen-cho-moi-sw-{n:02d}",
                "kind": "switch",
                "name": f"Switch tầng {n}",
                "unit": committee,
                "ip": f"10.63.0.{10 + n}",
                "macs": [b.mac("00:1e:58")],
                "model": "Cisco CBS350-24T",
                "serial": f"FOC24{RNG.randrange(10**6):06d}",
                "snmp_credential": "snmp-huyen-v3",
            }
        )
    devices.append(
        {
            "id": "huyen-cho-moi-van-phong-np-01",
            "kind": "printer",
            "name": "Máy in mạng Văn phòng",
            "unit": "huyen-cho-moi-van-phong",
            "office": "chuyen-vien",
            "ip": "10.63.1.50",
            "macs": [b.mac("3c:52:82")],
            "model": "HP LaserJet Pro M404dn",
            "snmp_credential": "snmp-huyen-v3",
        }
    )


def build_commune(b: Builder, index: int, unit_id: str, name: str, kind: str) -> None:
    offices = [
        {"id": slug, "name": title, "headcount": {"can_bo": can_bo, "cong_chuc": cong_chuc}}
        for slug, title, can_bo, cong_chuc in COMMUNE_OFFICES
    ]
    total_cb = sum(o[2] for o in COMMUNE_OFFICES) + 8  # Đảng ủy, HĐND, mass organisations
    total_cc = sum(o[3] for o in COMMUNE_OFFICES)
    b.unit(
        unit_id,
        f"UBND {name[0].lower()}{name[1:]}",
        kind,
        "huyen-cho-moi",
        code=f"{1900 + index * 3:05d}",
        offices=offices,
        headcount={"can_bo": total_cb, "cong_chuc": total_cc, "vien_chuc": 0},
        organisational_certificate=org_cert(b),
    )
    leaders = [
        ("Chủ tịch UBND", ["key_official", "signing_leader"]),
        ("Phó Chủ tịch UBND", ["key_official", "signing_leader"]),
        ("Phó Chủ tịch UBND", ["key_official"]),
    ]
    number = 1
    for position, roles in leaders:
        user = b.person(unit_id, "lanh-dao", position, roles, "can_bo")
        # Some commune key officials still have no computer of their own (readiness metric 5).
        if RNG.random() < 0.85:
            b.asset(
                unit_id,
                "lanh-dao",
                RNG.choice(["desktop", "laptop"]),
                number,
                assigned_user=user,
                tags=["signing-pc"] if "signing_leader" in roles else [],
            )
            number += 1
    clerk = None
    for slug, title, _can_bo, cong_chuc in COMMUNE_OFFICES[1:]:
        for i in range(cong_chuc):
            roles = ["clerk"] if slug == "van-phong" and i == 0 else []
            user = b.person(unit_id, slug, f"Công chức {title}", roles, "cong_chuc")
            clerk = clerk or (user if roles else None)
            kind_pc = RNG.choices(["desktop", "laptop", "all_in_one"], [6, 2, 1])[0]
            b.asset(unit_id, slug, kind_pc, number, assigned_user=user)
            number += 1
    for n, office in enumerate(("van-phong", "mot-cua"), start=1):
        b.asset(unit_id, office, "printer", n)
    if RNG.random() < 0.5:
        b.asset(unit_id, "lanh-dao", "printer", 3)
    if index % 3 == 0:
        state = "repair" if index == 9 else "in_use"
        extra = classified_extra(date(2023 + index % 2, 5, 20))
        if state == "repair":
            extra["sanitisation_ref"] = f"BB-XOA-{unit_id}-2026-01"
        b.asset(unit_id, "van-phong", "desktop", 90, assigned_user=clerk, state=state, **extra)
    if index == 7:
        b.asset(unit_id, "van-phong", "desktop", 20, state="spare", tags=["du-phong"])
    b.doc["network_devices"].extend(
        [
            {
                "id": f"{unit_id}-router-01",
                "kind": "router",
                "name": "Router TSLCD",
                "unit": unit_id,
                "ip": f"10.63.{20 + index}.1",
                "macs": [b.mac("e4:8d:8c")],
                "model": "MikroTik hEX RB750Gr3",
                "snmp_credential": "snmp-xa-v2c",
            },
            {
                "id": f"{unit_id}-sw-01",
                "kind": "switch",
                "name": "Switch trụ sở",
                "unit": unit_id,
                "office": "van-phong",
                "ip": f"10.63.{20 + index}.2",
                "macs": [b.mac("50:c7:bf")],
                "model": "TP-Link TL-SG1024DE",
                "serial": f"22{RNG.randrange(10**9):09d}",
                "snmp_credential": "snmp-xa-v2c",
            },
        ]
    )


#: How Ansible reaches a few computers (docs/inventory.md, "Ansible inventory"): an address with
#: the defaults, another port and user, a DNS name over WinRM. Set after the random draws, so the
#: rest of the file does not change with them.
CONNECTIONS = {
    "huyen-cho-moi-van-phong-pc-01": {"address": "10.63.1.11"},
    "huyen-cho-moi-van-phong-pc-02": {"address": "10.63.1.12", "port": 2222, "user": "quantri"},
    "xa-yen-dinh-pc-01": {"address": "pc-01.xa-yen-dinh.cho-moi.lan", "transport": "winrm"},
}


def main() -> None:
    """Build and write the example."""
    b = Builder()
    b.unit("tinh-thai-nguyen", "Tỉnh Thái Nguyên", "province", None, code="19")
    b.unit("huyen-cho-moi", "Huyện Chợ Mới (cũ)", "legacy_district", "tinh-thai-nguyen", code="063")
    build_district(b)
    for index, (unit_id, name, kind) in enumerate(COMMUNES, start=1):
        build_commune(b, index, unit_id, name, kind)
    for asset in b.doc["assets"]:
        if asset["id"] in CONNECTIONS:
            asset["connection"] = CONNECTIONS[asset["id"]]
    header = (
        "# Ví dụ tệp tổ chức govguard: huyện Chợ Mới cũ (tỉnh Bắc Kạn, nay thuộc Thái Nguyên).\n"
        "# Người, số sê-ri và địa chỉ MAC là giả. Tạo bởi scripts/make_example_district.py.\n"
        "# Example organisation file; people, serials and MACs are invented.\n"
    )
    body = yaml.safe_dump(b.doc, allow_unicode=True, sort_keys=False, width=100)
    OUT.write_text(header + body, encoding="utf-8")
    pcs = sum(a["kind"] in ("desktop", "laptop", "all_in_one") for a in b.doc["assets"])
    classified = sum(a.get("classification") == "classified" for a in b.doc["assets"])
    print(
        f"{OUT}: {len(b.doc['units'])} units, {len(b.doc['officials'])} officials, "
        f"{pcs} computers ({classified} classified), {len(b.doc['assets'])} assets, "
        f"{len(b.doc['network_devices'])} network devices"
    )


if __name__ == "__main__":
    main()
