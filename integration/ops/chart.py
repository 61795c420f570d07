"""The overview's chart of the last hour, drawn on the server as SVG (no script, no CDN)."""

from __future__ import annotations

from markupsafe import Markup, escape

from integration.ops.traffic import RESULTS, Traffic

WIDTH, HEIGHT, PAD = 720, 180, 30
# Colours that keep 3:1 against white and apart for the common colour blindnesses (Okabe-Ito).
COLOURS = {"accepted": "#0072B2", "duplicate": "#E69F00", "rejected": "#D55E00"}


def webhooks_chart(traffic: Traffic) -> Markup:
    """Stacked bars per minute (accepted, duplicate, rejected), all platforms together."""
    totals = [{r: sum(n for (_p, res), n in m.items() if res == r) for r in RESULTS} for m in traffic.per_minute]
    peak = max([sum(t.values()) for t in totals] + [1])
    slots = len(totals) or 1
    bar = (WIDTH - 2 * PAD) / slots
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-labelledby="chart-title chart-desc"'
        ' xmlns="http://www.w3.org/2000/svg">',
        '<title id="chart-title">Webhooks per minute, last hour</title>',
        f'<desc id="chart-desc">{sum(sum(t.values()) for t in totals)} webhooks in the last hour; '
        f"the busiest minute had {peak if any(totals) else 0}.</desc>",
        f'<line x1="{PAD}" y1="{HEIGHT - PAD}" x2="{WIDTH - PAD}" y2="{HEIGHT - PAD}" stroke="#888"/>',
        f'<text x="{PAD - 4}" y="{PAD + 4}" text-anchor="end" font-size="11" fill="#333">{peak}</text>',
        f'<text x="{PAD - 4}" y="{HEIGHT - PAD}" text-anchor="end" font-size="11" fill="#333">0</text>',
    ]
    scale = (HEIGHT - 2 * PAD) / peak
    for i, counts in enumerate(totals):
        y: float = HEIGHT - PAD
        for result in RESULTS:
            n = counts[result]
            if not n:
                continue
            h = n * scale
            y -= h
            minute = traffic.minutes[i].strftime("%H:%M")
            parts.append(
                f'<rect x="{PAD + i * bar + 0.5:.1f}" y="{y:.1f}" width="{max(bar - 1, 1):.1f}" height="{h:.1f}"'
                f' fill="{COLOURS[result]}"><title>{escape(minute)} UTC: {n} {result}</title></rect>'
            )
    for i in range(0, slots, 15):
        x = PAD + i * bar
        label = traffic.minutes[i].strftime("%H:%M") if traffic.minutes else ""
        parts.append(f'<text x="{x:.1f}" y="{HEIGHT - PAD + 16}" font-size="11" fill="#333">{escape(label)}</text>')
    for j, result in enumerate(RESULTS):
        x = WIDTH - PAD - 270 + j * 90
        parts.append(f'<rect x="{x}" y="6" width="10" height="10" fill="{COLOURS[result]}"/>')
        parts.append(f'<text x="{x + 14}" y="15" font-size="11" fill="#333">{result}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every value in it is a number or escaped above
