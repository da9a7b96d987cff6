"""The demo's timeline: backends per state over time (the Auto Scaling group's lifecycle states
and WEKA's machine states), with the story's chapters marked, drawn as a standalone SVG.

Pure Python (no plotting library): `Timeline.sample()` as the story polls, `chapter()` as it
moves on, `svg()` at the end.
"""

from xml.sax.saxutils import escape

# Series drawn, in legend order: (key, label, colour).
SERIES = [
    ("asg:InService", "ASG InService", "#1f77b4"),
    ("asg:Pending:Wait", "ASG Pending:Wait", "#aec7e8"),
    ("asg:Terminating:Wait", "ASG Terminating:Wait", "#ff9896"),
    ("weka:active", "WEKA active", "#2ca02c"),
    ("weka:deactivating", "WEKA deactivating", "#ff7f0e"),
    ("weka:inactive", "WEKA inactive / down", "#d62728"),
]
WIDTH, HEIGHT = 960, 420
LEFT, RIGHT, TOP, BOTTOM = 56, 200, 28, 48


class Timeline:
    def __init__(self):
        self.samples = []  # (t, {key: count})
        self.chapters = []  # (t, title)

    def sample(self, t, asg_states, weka_states):
        """`asg_states`: ASG lifecycle state -> count; `weka_states`: WEKA machine state
        ("active", "deactivating", "inactive", "down", ...) -> count."""
        counts = {f"asg:{k}": v for k, v in asg_states.items()}
        for state, n in weka_states.items():
            key = "weka:inactive" if state in ("inactive", "down") else f"weka:{state}"
            counts[key] = counts.get(key, 0) + n
        self.samples.append((t, counts))

    def chapter(self, t, title):
        self.chapters.append((t, title))

    def svg(self, title="make demo"):
        times = [t for t, _ in self.samples] + [t for t, _ in self.chapters]
        t_start = min(times, default=0.0)
        t_end = max(times + [t_start + 1.0])
        y_max = max([v for _, c in self.samples for v in c.values()] + [1])
        # One line per chapter title under the plot.
        height = HEIGHT + 14 * len(self.chapters)
        plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

        def x(t):
            return LEFT + plot_w * (t - t_start) / (t_end - t_start)

        def y(v):
            return TOP + plot_h * (1 - v / y_max)

        out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
               f'viewBox="0 0 {WIDTH} {height}" font-family="sans-serif" font-size="11">',
               f'<rect width="{WIDTH}" height="{height}" fill="white"/>',
               f'<text x="{LEFT}" y="16" font-size="13" font-weight="bold">'
               f'{escape(title)}: backends per state over time</text>']
        # Axes and grid.
        for v in range(0, y_max + 1, max(1, y_max // 8 or 1)):
            out.append(f'<line x1="{LEFT}" y1="{y(v):.1f}" x2="{LEFT + plot_w}" y2="{y(v):.1f}" '
                       f'stroke="#eee"/><text x="{LEFT - 6}" y="{y(v) + 4:.1f}" '
                       f'text-anchor="end">{v}</text>')
        step = _nice_step(t_end - t_start)
        t = t_start
        while t <= t_end + 1e-9:
            out.append(f'<text x="{x(t):.1f}" y="{TOP + plot_h + 16}" text-anchor="middle">'
                       f'{t:.0f}s</text>')
            t += step
        out.append(f'<text x="{LEFT + plot_w}" y="{TOP + plot_h + 30}" text-anchor="end" '
                   f'fill="#555">seconds since the run started</text>')
        out.append(f'<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" '
                   f'fill="none" stroke="#999"/>')
        # Chapters: a dashed line and a number; the titles go under the plot.
        for i, (t, name) in enumerate(self.chapters, 1):
            out.append(f'<line x1="{x(t):.1f}" y1="{TOP}" x2="{x(t):.1f}" y2="{TOP + plot_h}" '
                       f'stroke="#888" stroke-dasharray="4 3"/><text x="{x(t) + 3:.1f}" '
                       f'y="{TOP + 12}" fill="#555">{i}</text>')
        # Series as step lines.
        for n, (key, label, colour) in enumerate(SERIES):
            points = []
            previous = None
            for t, counts in self.samples:
                v = counts.get(key, 0)
                if previous is not None:
                    points.append(f"{x(t):.1f},{y(previous):.1f}")
                points.append(f"{x(t):.1f},{y(v):.1f}")
                previous = v
            if points:
                out.append(f'<polyline data-series="{escape(key)}" fill="none" '
                           f'stroke="{colour}" stroke-width="2" points="{" ".join(points)}"/>')
            ly = TOP + 14 + 18 * n
            out.append(f'<line x1="{WIDTH - RIGHT + 14}" y1="{ly - 4}" x2="{WIDTH - RIGHT + 34}" '
                       f'y2="{ly - 4}" stroke="{colour}" stroke-width="3"/>'
                       f'<text x="{WIDTH - RIGHT + 40}" y="{ly}">{escape(label)}</text>')
        for i, (_, name) in enumerate(self.chapters, 1):
            out.append(f'<text x="{LEFT}" y="{TOP + plot_h + 44 + 14 * (i - 1)}" fill="#555">'
                       f'{escape(f"{i}. {_untitled(name)}"[:150])}</text>')
        out.append("</svg>")
        return "\n".join(out) + "\n"


def _untitled(name):
    """A chapter's title without the story's own numbering ("3. ..."): the picture numbers them."""
    head, _, rest = name.partition(". ")
    return rest if head.isdigit() else name


def _nice_step(span):
    for step in (10, 20, 30, 60, 120, 300, 600, 1200, 1800, 3600):
        if span / step <= 10:
            return float(step)
    return span / 10
