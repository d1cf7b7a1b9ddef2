"""Generator settings: every rate the corpus is drawn with, in one place (all recorded in truth.json).

`GenConfig.from_mapping` takes a plain dict (``config=`` of `generate`); unknown keys are an error.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any, Mapping


@dataclass(frozen=True)
class VariantRates:
    """How often one mention of a person differs from the person (per mention, among mentions
    where the variant can apply)."""
    name_variant: float = 0.08      # forename nickname / spelling variant (Mohammed -> Muhammad)
    typo: float = 0.02              # one-letter typo in forename or surname
    middle_missing: float = 0.15    # a middle name the person has is left out
    middle_extra: float = 0.02      # a middle name the person does not have is added
    name_swap: float = 0.01         # forename and surname swapped
    dob_swap: float = 0.03          # day and month of birth swapped (day <= 12, day != month)
    dob_missing: float = 0.06       # no date of birth, age only
    moved: float = 0.35             # a defendant in a later case has moved address


@dataclass(frozen=True)
class GenConfig:
    variants: VariantRates = field(default_factory=VariantRates)
    # ---- case mix (shares of fresh cases)
    sjp_share: float = 0.16             # single justice procedure (motoring, TV licence, ...)
    csa_share: float = 0.12             # child sexual abuse cases
    sexual_adult_share: float = 0.04    # other sexual offences
    csa_multi_rate: float = 0.25        # CSA cases with two defendants
    other_multi_rate: float = 0.06      # other cases with 2-4 defendants
    shared_victim_rate: float = 0.035   # CSA victim charged again in a separate case, other defendant
    networks_per_1000_cases: float = 0.45
    network_defendants: tuple[int, int] = (3, 15)
    network_victims: tuple[int, int] = (1, 20)
    network_pfas: tuple[int, int] = (1, 3)
    hotspot_multi_share: float = 0.18   # share of multi-defendant CSA cases placed in hotspots
    hotspot_weights: tuple[float, ...] = (0.5, 0.2, 0.17, 0.13)
    repeat_rate: float = 0.22           # convicted defendants who get a new case
    cross_boundary_repeat: float = 0.25  # a repeat case lands in another force area
    youth_share: float = 0.05           # youth defendants (never on public lists)
    s4_2_rate: float = 0.03             # Crown trials under a s.4(2) postponement order
    open_at_end: bool = True            # cases still running at the end stay open (no truncation)
    # ---- how registers show complainants
    complainant_styles: tuple[tuple[str, float], ...] = (
        ("named", 0.35), ("initials", 0.22), ("described", 0.30), ("none", 0.13))
    complainant_party_rate: float = 0.06   # complainant also listed as a party (standard list)
    no_place_rate: float = 0.07         # wording gives no place of offence
    no_fixed_abode_rate: float = 0.03
    # ---- lists
    reissue_rate: float = 0.02          # lists re-issued as a later version
    mags_entries_per_sitting_day: int = 40
    crown_entries_per_sitting_day: int = 20
    town_radius_km: float = 28.0
    data_dir: str | None = None         # alternative folder for courts/towns/offences CSVs (tests)

    @classmethod
    def from_mapping(cls, m: Mapping[str, Any] | "GenConfig" | None) -> "GenConfig":
        if m is None:
            return cls()
        if isinstance(m, GenConfig):
            return m
        m = dict(m)
        known = {f.name for f in fields(cls)}
        bad = set(m) - known
        if bad:
            raise ValueError(f"unknown generator settings: {sorted(bad)}")
        if "variants" in m and not isinstance(m["variants"], VariantRates):
            v = dict(m["variants"])
            vk = {f.name for f in fields(VariantRates)}
            if set(v) - vk:
                raise ValueError(f"unknown variant rates: {sorted(set(v) - vk)}")
            m["variants"] = VariantRates(**v)
        for k in ("network_defendants", "network_victims", "network_pfas", "hotspot_weights"):
            if k in m:
                m[k] = tuple(m[k])
        if "complainant_styles" in m:
            cs = m["complainant_styles"]
            m["complainant_styles"] = tuple((str(a), float(b)) for a, b in
                                            (cs.items() if isinstance(cs, Mapping) else cs))
        return cls(**m)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["complainant_styles"] = {k: v for k, v in self.complainant_styles}
        d.pop("data_dir", None)
        return d
