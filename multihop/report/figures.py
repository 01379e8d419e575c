"""Drawing the study's figures (seaborn/matplotlib); the numbers come from multihop.tables.

Colours are fixed across figures: blue = correct cases, orange = incorrect cases; heatmaps of
shares run from 0 to 1, linear or on the square-root scale that their colour bar names. Layers are
block indices, 0 = the first decoder block.
"""

import math
import sys

import matplotlib

if "ipykernel" not in sys.modules:  # files only, no display (a notebook keeps its inline figures)
    matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

from multihop.evaluation.splits import SPLITS  # noqa: E402
from multihop.files import atomic_path  # noqa: E402
from multihop.report.tables import FIRST_LAYERS, STAGES  # noqa: E402

SPLIT_COLORS = {"correct": "#0173B2", "incorrect": "#DE8F05"}  # seaborn "colorblind" blue, orange
HEATMAP = "viridis"
# a colour scale stretched at the low end where Patchscopes shares live (its colour bar says so)
HEATMAP_NORM = matplotlib.colors.PowerNorm(gamma=0.5, vmin=0, vmax=1)
LINEAR_NORM = matplotlib.colors.Normalize(vmin=0, vmax=1)
STRETCHED = " (colour: square-root scale)"
DIFFERENCE = "RdBu_r"  # a diverging scale for differences of shares: red above 0, blue below
DIFFERENCE_NORM = matplotlib.colors.TwoSlopeNorm(vcenter=0, vmin=-1, vmax=1)
LAYER_AXIS = "layer (decoder block, 0 = first)"

sns.set_theme(style="whitegrid", context="notebook")


def save(figure, png, pdf) -> None:
    """Write the figure as PNG and PDF, each atomically, and free it."""
    for path, kind in ((png, "png"), (pdf, "pdf")):
        with atomic_path(path) as tmp:
            figure.savefig(tmp, format=kind, dpi=150, bbox_inches="tight")
    plt.close(figure)


def _layer_ticks(num_layers: int, most: int = 10) -> list[int]:
    """At most `most` evenly spaced layer ticks, so that deep models' labels do not overlap."""
    return list(range(0, num_layers, max(1, math.ceil(num_layers / most))))


def _stage_ticks(ax, order: list[str], groups, reached, studied) -> None:
    """One tick per stage, its name over "reached/studied" of each group (split or model): a
    reader sees what each box leaves out. `reached`, `studied`: (stage, group) -> count."""
    ax.set_xticks(range(len(order)))
    ax.set_xticklabels(
        [
            stage.replace(" ", "\n", 1)
            + "\n"
            + "  ".join(f"{reached.get((stage, g), 0)}/{studied.get((stage, g), 0)}" for g in groups)
            for stage in order
        ]
    )


def _empty(ax, text="no cases") -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, color="grey")


def stage_boxplot(
    stages: pd.DataFrame, counts: dict[str, int], num_layers: int, title: str, *, studied=None, chance=None
):
    """Box plot of the layer of each stage, correct vs incorrect cases, with every case as a dot;
    the boxes are over the cases that reach the stage (as the authors draw them), and the cases
    that never reach it sit as dots in the "never" row above the last layer (layer `num_layers`
    in `stages`), outside the boxes: where "never" is drawn decides nothing.

    Each stage has its own cases: under each stage, how many cases of each split reach it, out of
    `studied[(stage, split)]` (the cases its analyses studied; default: all `counts[split]`
    cases); the legend names the splits without a count, which would hold for no stage in
    particular. `chance[(stage, split)]`: the median layer at which another case's name is
    "decoded" from the same generations, drawn as a dashed grey bar over the split's box.
    """
    studied = studied or {}
    figure, ax = plt.subplots(figsize=(9, 5))
    order = list(STAGES.values())
    labels = {split: split for split in SPLITS}
    data = stages.assign(split=stages["split"].map(labels))
    palette = {labels[s]: SPLIT_COLORS[s] for s in SPLITS}
    hue_order = [labels[s] for s in SPLITS]
    if data.empty:
        _empty(ax, "no case reached any stage")
    else:
        common = dict(x="stage", y="layer", hue="split", order=order, hue_order=hue_order, ax=ax)
        boxed = data[data["layer"] < num_layers]  # the boxes: the cases that reach the stage, as the authors'
        if not boxed.empty:
            sns.boxplot(data=boxed, **common, palette=palette, fill=False, showfliers=False)
        common["data"] = data
        np.random.seed(0)  # seaborn jitters with numpy's global generator: the same dots every run
        dots = dict(dodge=True, size=6, alpha=0.7, legend=boxed.empty, jitter=0.08)  # (the boxes' legend, if any)
        sns.stripplot(**common, palette=palette, **dots)
        for (stage, split), layer in (chance or {}).items():
            x = order.index(stage) + (SPLITS.index(split) - (len(SPLITS) - 1) / 2) * 0.8 / len(SPLITS)
            ax.hlines(layer, x - 0.17, x + 0.17, colors="grey", linestyles="--", linewidth=2)
        if chance:
            ax.plot([], [], color="grey", linestyle="--", linewidth=2, label="another case's\nnames (chance)")
        ax.legend(title="cases (n per stage:\nbelow each stage)", loc="upper left", bbox_to_anchor=(1, 1))
    reached = stages[stages["layer"] < num_layers].groupby(["stage", "split"]).size()
    studied = {(stage, s): studied.get((stage, s), counts.get(s, 0)) for stage in order for s in SPLITS}
    _stage_ticks(ax, order, SPLITS, reached, studied)
    ax.set_xlabel("stage (below: cases reaching it / cases studied, correct  incorrect)")
    ax.set_ylim(-0.5, num_layers + 0.5)
    ticks = _layer_ticks(num_layers)
    ax.set_yticks([*ticks, num_layers], [*map(str, ticks), "never"])
    ax.axhline(num_layers - 0.5, color="grey", linewidth=0.8, linestyle="--")
    ax.set_ylabel(LAYER_AXIS)
    ax.set_title(title)
    return figure


def first_layer_lines(shares: pd.DataFrame, counts: dict[str, int], num_layers: int, title: str):
    """Per event (e2 from t1, e3 from t2): percent of cases by the first layer it happens, a line
    per split of `shares`, or one for the splits pooled (tables.POOLED, in grey)."""
    events = list(FIRST_LAYERS.values())
    figure, axes = plt.subplots(1, len(events), figsize=(11, 4), sharey=True)
    for ax, event in zip(axes, events, strict=True):
        own = shares[(shares["event"] == event) & shares["percent"].notna()]
        for split in dict.fromkeys(own["split"]):
            line, color = own[own["split"] == split], SPLIT_COLORS.get(split, "dimgrey")
            label = f"{split} (n={counts.get(split, 0)})"
            ax.plot(line["layer"], line["percent"], marker="o", color=color, label=label)
        if own.empty:
            _empty(ax)
        ax.set_title(event)
        ax.set_xlabel(f"first {LAYER_AXIS}")
        ax.set_xticks(_layer_ticks(num_layers))
        ax.set_xlim(-0.5, num_layers - 0.5)
        ax.set_ylim(0, 100)
    axes[0].set_ylabel("cases (%)")
    legend = {name: handle for ax in axes for handle, name in zip(*ax.get_legend_handles_labels(), strict=True)}
    if legend:
        axes[-1].legend(legend.values(), legend.keys(), title="cases", loc="upper left", bbox_to_anchor=(1, 1))
    figure.suptitle(title)
    figure.tight_layout()
    return figure


def heatmaps(
    panels: dict[tuple[str, str], pd.DataFrame],
    num_layers: int,
    title: str,
    scale: str,
    *,
    marks: dict | None = None,
    difference: bool = False,
    stretch: bool = False,
):
    """A grid of source x target layer heatmaps; `panels` maps (row, column) names to rate grids.

    Empty cells (no runs, e.g. s <= t in back-patching) stay blank; one colour bar for all panels,
    labelled `scale`. Shares run from 0 to 1 on a linear colour scale, or with `stretch` on a
    square-root one (HEATMAP_NORM), which the colour bar then says. `marks` maps a panel to the
    (source, target) cells to mark with a dot; with `difference`, the values are differences in
    [-1, 1], on a diverging scale centred on 0.
    """
    rows = list(dict.fromkeys(row for row, _ in panels))
    columns = list(dict.fromkeys(column for _, column in panels))
    figure, axes = plt.subplots(
        len(rows),
        len(columns),
        figsize=(3.4 * len(columns) + 1.2, 3.4 * len(rows)),
        squeeze=False,
        layout="constrained",
    )
    ticks = _layer_ticks(num_layers, most=6)
    norm, cmap = (DIFFERENCE_NORM, DIFFERENCE) if difference else (HEATMAP_NORM if stretch else LINEAR_NORM, HEATMAP)
    image = None
    for (row, column), grid in panels.items():
        ax = axes[rows.index(row), columns.index(column)]
        values = grid.to_numpy(dtype=float)
        extent = (-0.5, num_layers - 0.5, -0.5, num_layers - 0.5)
        image = ax.imshow(
            np.ma.masked_invalid(values), origin="lower", extent=extent, norm=norm, cmap=cmap, aspect="equal"
        )
        marked = list((marks or {}).get((row, column), ()))
        if marked:
            sources, targets = zip(*marked, strict=True)
            ax.scatter(sources, targets, s=9, color="black", marker="o", linewidths=0)
        if np.isnan(values).all():
            _empty(ax)
        ax.grid(False)
        ax.set_xticks(ticks)
        ax.set_yticks(ticks)
        ax.set_title(f"{row} cases · {column}", fontsize=11)
        ax.set_xlabel("source layer" if row == rows[-1] else "")
        ax.set_ylabel("target layer" if column == columns[0] else "")
    figure.colorbar(image, ax=axes, shrink=0.8, label=scale + (STRETCHED if stretch and not difference else ""))
    figure.suptitle(title)
    return figure


def comparison(stages: pd.DataFrame, fixable: pd.DataFrame, title: str):
    """Models side by side: stage depth (relative: 0 = first block, 1 = last) per split, and
    back-patching fixable shares with their 95% intervals."""
    models = list(dict.fromkeys(fixable["model"]))
    palette = dict(zip(models, sns.color_palette("Set2", len(models)), strict=True))
    figure, axes = plt.subplots(1, 3, figsize=(17, 5), gridspec_kw={"width_ratios": [1, 1, 0.9]})
    order = list(STAGES.values())
    for ax, split in zip(axes[:2], SPLITS, strict=True):
        own = stages[stages["split"] == split]
        own = own.assign(depth=own["depth"].where(own["depth"] <= 1, 1.1))  # never reached: one row above
        reaching = own[own["depth"] <= 1]
        if own.empty:
            _empty(ax)
        else:
            common = dict(x="stage", y="depth", hue="model", order=order, hue_order=models, ax=ax, legend=False)
            # the boxes over the cases that reach the stage, as in stages.png; "never" as dots only
            sns.boxplot(data=reaching, **common, palette=palette, fill=False, showfliers=False)
            np.random.seed(0)  # the same jitter every run
            sns.stripplot(data=own, **common, palette=palette, dodge=True, size=5, alpha=0.7, jitter=0.08)
        reached = reaching.groupby(["stage", "model"]).size()
        studied = own.groupby(["stage", "model"]).size()
        _stage_ticks(ax, order, models, reached, studied)
        ax.set_xlabel("below: cases reaching the stage / studied, per model")
        ax.set_ylim(-0.05, 1.15)
        ax.set_yticks([0, 0.25, 0.5, 0.75, 1, 1.1], ["0", "0.25", "0.5", "0.75", "1", "never"])
        ax.axhline(1.05, color="grey", linewidth=0.8, linestyle="--")
        ax.set_ylabel("relative depth (layer / (layers - 1))")
        ax.set_title(f"stages, {split} cases")
    ax = axes[2]
    groups = [(split, position) for split in ("incorrect", "correct") for position in ("t1", "t2")]
    width = 0.8 / len(models)
    for i, model in enumerate(models):
        own = fixable[fixable["model"] == model].set_index(["split", "position"]).reindex(groups)
        x = np.arange(len(groups)) + (i - (len(models) - 1) / 2) * width
        share, low, high = (own[column].to_numpy(dtype=float) for column in ("share", "ci_low", "ci_high"))
        error = _error_bars(share, low, high)
        ax.bar(x, share, width=width, color=palette[model], label=model)
        ax.errorbar(x, share, yerr=error, fmt="none", ecolor="black", capsize=3)
        for xi, top, row in zip(x, np.fmax(share, high), own.itertuples(), strict=True):  # k/n: 0 stays visible
            if not np.isnan(row.n):
                label = f"{row.fixable:.0f}/{row.n:.0f}"
                ax.text(xi, np.nan_to_num(top) + 0.02, label, ha="center", va="bottom", fontsize=8)
    ax.set_xticks(range(len(groups)))
    ax.set_xticklabels([f"{split}\n{position}" for split, position in groups])
    ax.set_ylim(0, 1.12)
    ax.set_ylabel("fixable share of cases (95% CI; fixable/n above)")
    ax.set_title("back-patching")
    ax.legend(title="model", loc="upper left", bbox_to_anchor=(1, 1))
    figure.suptitle(title)
    figure.tight_layout()
    return figure


def _error_bars(value, low, high) -> np.ndarray:
    """Error bar lengths below and above; a percentile interval need not contain its point
    estimate: clipped, never negative (none where there is no interval)."""
    value, low, high = (np.asarray(x, dtype=float) for x in (value, low, high))
    return np.clip(np.nan_to_num([value - low, high - value]), 0, None)


def _line_panels(panels: dict[str, pd.DataFrame], num_layers: int, title: str, ylabel: str, log=False):
    """One panel per name: each a table [layer, line, value] drawn as lines over the layers."""
    figure, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels) + 1, 3.6), squeeze=False, sharey=True)
    for ax, (name, data) in zip(axes[0], panels.items(), strict=True):
        if data.empty:
            _empty(ax)
        else:
            sns.lineplot(data=data, x="layer", y="value", hue="line", marker="o", ax=ax)
            ax.legend(title=None, fontsize=9)
        ax.set_title(name, fontsize=11)
        ax.set_xticks(_layer_ticks(num_layers))
        ax.set_xlabel(LAYER_AXIS)
        ax.set_ylabel(ylabel)
        if log:
            ax.set_yscale("log")
        else:  # a share: the whole range, so that no change reads as no change
            ax.set_ylim(-0.02, 1.02)
    figure.suptitle(title)
    figure.tight_layout()
    return figure


def projection_lines(tables: dict[str, pd.DataFrame], num_layers: int, title: str):
    """Per split (or label) and sublayer: the median rank of e2 and e3 when the sublayer's output
    at t2 is projected to the vocabulary (1 = ranked first)."""
    panels = {}
    for split, table in tables.items():
        for sublayer in ("attention", "mlp"):
            own = table[table["sublayer"] == sublayer]
            long = own.melt(id_vars="layer", value_vars=["e2_rank", "e3_rank"], var_name="line", value_name="value")
            long["line"] = long["line"].str.removesuffix("_rank")
            panels[f"{split} cases · {sublayer}"] = long.groupby(["layer", "line"], as_index=False)["value"].median()
    return _line_panels(panels, num_layers, title, "median rank (1 = first)", log=True)


def knockout_lines(tables: dict[str, pd.DataFrame], num_layers: int, title: str):
    """Per split (or label): the share of runs whose answer changes when attention from t2 to each
    target is blocked in the window of layers around a layer."""
    panels = {}
    for split, table in tables.items():
        shares = table.groupby(["layer", "target"], as_index=False)["changed"].mean()
        panels[f"{split} cases"] = shares.rename(columns={"target": "line", "changed": "value"})
    return _line_panels(panels, num_layers, title, "share of runs whose answer changes")


NULL_COLORS = {
    "back-patching": "#029E73",  # colorblind green
    "forward patching": "#DE8F05",
    "matched noise": "#949494",
    "another case's state": "#CC78BC",
}


def _grouped_bars(ax, groups: list[str], bars: dict[str, pd.DataFrame]) -> None:
    """Bars per group (x) and method (colour): `bars` maps a method to rows indexed by group with
    value (and ci_low, ci_high where known, drawn as 95% intervals)."""
    width = 0.8 / max(len(bars), 1)
    for i, (method, rows) in enumerate(bars.items()):
        rows = rows.reindex(groups)
        x = np.arange(len(groups)) + (i - (len(bars) - 1) / 2) * width
        error = None
        if "ci_low" in rows and rows["ci_low"].notna().any():
            error = _error_bars(rows["value"], rows["ci_low"], rows["ci_high"])
        ax.bar(x, rows["value"], width, yerr=error, capsize=3, color=NULL_COLORS[method], label=method)
        if "beats" in rows:
            for xi, value, high, beats in zip(
                x, rows["value"], rows.get("ci_high", rows["value"]), rows["beats"], strict=True
            ):
                if beats == "yes":
                    ax.annotate("*", (xi, np.nanmax([value, high])), ha="center", va="bottom", fontsize=12)
    ax.set_xticks(range(len(groups)), groups)


def nulls_bars(table: pd.DataFrame, title: str):
    """The incorrect split's back-patching against its nulls (multihop.report.nulls), every bar a
    paired difference, back-patching minus the null over the cases both studied (so no bar sets
    one method's cases beside another's): the fixable flag (what decides the headline), the
    per-case share of cells answering e3, and the held-out test's fix rate and net effect.
    Intervals: 95%, over groups of cases sharing e2 or e3; * marks a null back-patching beats.
    The legend says over how many cases each null was compared."""
    from multihop.report.heldout import FIXES, NET
    from multihop.report.nulls import FIXABLE, SUCCESS, WHERE

    own = table[table["split"].isin(["incorrect", "both"]) & (table["null"] != "")]  # (not back-patching alone)
    figure, axes = plt.subplots(1, 3, figsize=(16, 4.6), squeeze=False)
    fixable, success = own[own["measure"] == FIXABLE], own[own["measure"] == SUCCESS]
    nulls = list(dict.fromkeys(own["null"]))
    panels = [
        ("back-patching minus null:\nfixable flag per case (the headline's)", "difference in fixable share"),
        ("back-patching minus null:\nper-case share of cells answering e3", "difference"),
        ("one patch chosen on other cases, held out:\nback-patching minus null", "difference"),
    ]
    for ax, (name, ylabel) in zip(axes[0], panels, strict=True):
        ax.set_title(name, fontsize=11)
        ax.set_ylabel(ylabel)
    if own.empty:
        for ax in axes[0]:
            _empty(ax)
        figure.suptitle(title)
        figure.tight_layout()
        return figure
    _grouped_bars(axes[0][0], list(WHERE), {n: fixable[fixable["null"] == n].set_index("position") for n in nulls})
    _grouped_bars(axes[0][1], list(WHERE), {n: success[success["null"] == n].set_index("position") for n in nulls})
    held = own[own["measure"].isin([FIXES, NET])].assign(group=lambda t: t["measure"].str.removeprefix("held-out "))
    groups = [FIXES.removeprefix("held-out "), NET.removeprefix("held-out ")]
    _grouped_bars(axes[0][2], groups, {n: held[held["null"] == n].set_index("group") for n in nulls})
    for ax in axes[0]:
        ax.axhline(0, color="black", linewidth=0.8)
    cases = {n: int(fixable.loc[fixable["null"] == n, "n"].max()) for n in nulls if (fixable["null"] == n).any()}
    handles, labels = axes[0][0].get_legend_handles_labels()
    labels = [f"{label} ({cases[label]} cases)" if label in cases else label for label in labels]
    figure.legend(handles, labels, loc="lower center", ncol=len(labels), fontsize="small",
                  title="incorrect cases, each null against back-patching on the cases both studied",
                  title_fontsize="small")  # fmt: skip
    figure.suptitle(title)
    figure.tight_layout(rect=(0, 0.12, 1, 1))
    return figure
