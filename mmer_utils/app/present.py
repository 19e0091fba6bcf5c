"""The portrait's summary (``jobs.summarise``) arranged for the templates: rows ready to loop over."""

from __future__ import annotations

from ..labels import SHARED

TRAITS = ("extraversion", "neuroticism", "agreeableness", "conscientiousness", "openness")
MODALITY_NAMES = {"text": "text", "voice": "voice", "face": "face"}


def _sorted_items(d: dict | None) -> list[tuple[str, float]]:
    return sorted(((k, v) for k, v in (d or {}).items() if v is not None), key=lambda kv: -kv[1])


def portrait_view(s: dict | None) -> dict:
    """Everything the results page shows, from the stored summary (missing parts are None or empty)."""
    s = s or {}
    comparison = s.get("comparison") or {}
    records = comparison.get("percentiles") or []
    by_kind: dict = {}
    for r in records:
        by_kind.setdefault(r["kind"], {})[r["key"]] = r
    traits = None
    if s.get("traits"):
        pct = s.get("trait_percentiles") or {}
        top = s.get("most_visible_trait")
        traits = [{"trait": t, "p": s["traits"].get(t), "pct_essays": pct.get(t),
                   "pct_candidates": by_kind.get("trait", {}).get(t, {}).get("percentile"),
                   "median_candidates": by_kind.get("trait", {}).get(t, {}).get("median"), "top": t == top}
                  for t in TRAITS if t in s["traits"]]
    most_frequent = [{"modality": m, **v} for m, v in (s.get("most_frequent") or {}).items()]
    agreement = [{"modality": m, **v} for m, v in (s.get("agreement") or {}).items()]
    combined = _sorted_items(s.get("combined"))
    standing = []
    for kind, title in (("trait", "Big Five (P(high))"), ("combined", "combined emotion"),
                        ("text", "text emotion"), ("voice", "voice emotion"), ("face", "face emotion")):
        keys = TRAITS if kind == "trait" else SHARED
        for key in keys:
            r = by_kind.get(kind, {}).get(key)
            if r is not None:
                standing.append({"kind": title, "key": key, "value": r.get("value"), "percentile": r.get("percentile"),
                                 "median": r.get("median")})
    return {
        "given": [(k, v) for k, v in (s.get("inputs") or {}).items() if v],
        "missing": [k for k, v in (s.get("inputs") or {}).items() if not v],
        "traits": traits, "most_visible_trait": s.get("most_visible_trait"),
        "n_others": int(comparison.get("n_others") or 0),
        "text_emotion": _sorted_items(s.get("text_emotion")),
        "words": s.get("most_common_words") or [],
        "voice": s.get("voice"), "face": s.get("face"),
        "most_frequent": most_frequent, "agreement": agreement,
        "combined": combined, "combined_emotion": s.get("combined_emotion"),
        "combined_p": combined[0][1] if combined else None,
        "standing": standing,
        "figures": set(s.get("figures") or []),
        "notes": s.get("notes") or [], "models": list((s.get("models") or {}).items()),
        "caveats": s.get("caveats") or [], "problems": list((s.get("problems") or {}).items()),
        "quick_models": bool(s.get("quick_models")),
    }


def fmt(value, pattern: str = "{:.2f}", missing: str = "–") -> str:
    """A number for a table cell (``missing`` for None)."""
    if value is None:
        return missing
    try:
        return pattern.format(value)
    except (TypeError, ValueError):
        return str(value)
