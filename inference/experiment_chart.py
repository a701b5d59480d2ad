"""The experiment's chart as a standalone SVG string, drawn from the numbers by this code alone.

No user markup ever reaches the SVG: every text (token texts come from the
model, titles from a lead) is escaped, and numbers are formatted from floats.
The result has no script, no style attribute, no link and no external
reference, so it is safe to store and to place inline in the recap page.
"""

from __future__ import annotations

from typing import Any

from django.utils.html import escape

WIDTH = 640
LABEL_WIDTH = 150
BAR_WIDTH = 330
ROW = 24
TOKENS_SHOWN = 8
OBSERVED = "#1f5fa8"
PREDICTED = "#b8860b"
TEXT = "#1a1a1a"
MUTED = "#555555"


def _visible(text: str) -> str:
    if text == "":
        return "∅"
    return text.replace("\r", "␍").replace("\n", "↵").replace("\t", "⇥")


def _pct(p: float) -> str:
    value = p * 100
    if value == 0:
        return "0%"
    return f"{value:.1f}%" if value >= 1 else f"{value:.2g}%"


def _text(x: float, y: float, content: str, *, size: int = 13, fill: str = TEXT, anchor: str = "start") -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" fill="{fill}" text-anchor="{anchor}" '
        f'font-family="system-ui, sans-serif">{escape(content)}</text>'
    )


def results_svg(results: dict[str, Any]) -> str:
    """Per arm: each first token's observed frequency (blue) beside the model's probability (gold)."""
    parts: list[str] = []
    y = 28.0
    parts.append(_text(12, y, str(results.get("title", "")), size=16))
    y += 22
    parts.append(
        f'<rect x="12" y="{y - 10:.1f}" width="12" height="10" fill="{OBSERVED}"/>'
        + _text(30, y, "observed share of the room's first tokens", size=12, fill=MUTED)
        + f'<rect x="330" y="{y - 10:.1f}" width="12" height="10" fill="{PREDICTED}"/>'
        + _text(348, y, "model's probability", size=12, fill=MUTED)
    )
    for arm in results.get("arms", []):
        y += 30
        done = int(arm.get("runs_done", 0))
        temperature = float(arm.get("temperature", 0))
        heading = f"Temperature {temperature:g}: {done} run{'s' if done != 1 else ''}"
        if arm.get("mean_entropy_bits") is not None:
            heading += f", mean entropy {float(arm['mean_entropy_bits']):.2f} bits"
        parts.append(_text(12, y, heading, size=14))
        tokens = list(arm.get("first_token", []))[:TOKENS_SHOWN]
        if not tokens:
            y += ROW
            parts.append(_text(24, y, "No runs finished.", size=12, fill=MUTED))
        for token in tokens:
            y += ROW
            count = int(token.get("count", 0))
            observed = count / done if done else 0.0
            predicted = float(token.get("p_predicted") or 0.0)
            label = _visible(str(token.get("text", "")))
            if len(label) > 18:
                label = label[:17] + "…"
            parts.append(_text(24, y, label, size=12))
            x0 = LABEL_WIDTH
            parts.append(
                f'<rect x="{x0}" y="{y - 13:.1f}" width="{max(observed * BAR_WIDTH, 0.5):.1f}" height="8" '
                f'fill="{OBSERVED}"/>'
                f'<rect x="{x0}" y="{y - 4:.1f}" width="{max(predicted * BAR_WIDTH, 0.5):.1f}" height="6" '
                f'fill="{PREDICTED}"/>'
            )
            parts.append(
                _text(x0 + BAR_WIDTH + 10, y, f"{count}/{done} = {_pct(observed)} · p {_pct(predicted)}", size=11)
            )
        if arm.get("fit_words"):
            y += ROW
            parts.append(_text(24, y, str(arm["fit_words"])[:110], size=11, fill=MUTED))
    height = int(y + 20)
    title = escape(f"Results of the experiment “{results.get('title', '')}”")
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}" '
        f'role="img" aria-label="{title}"><title>{title}</title>'
        f'<rect x="0" y="0" width="{WIDTH}" height="{height}" fill="#ffffff"/>' + "".join(parts) + "</svg>"
    )
