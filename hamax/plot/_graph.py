import numpy as np


def plot_ham(ham, ax=None, *, title: str | None = None):
    """Draw a HAM's hypergraph: layers as labelled nodes (name, shape, Lagrangian),
    each connection as an edge labelled with its synapse. Unary synapses and
    self-connections are drawn as loops; n-ary ones (3 or more layers) as a square
    hub joined to every layer they connect. Returns the matplotlib `Axes`; save
    with `ax.figure.savefig("ham.png")` (or `.svg`).
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import Circle

    if ax is None:
        ax = plt.subplots(figsize=(7, 5))[1]
    names = list(ham.neurons)
    n = len(names)
    angles = np.pi / 2 - 2 * np.pi * np.arange(n) / max(n, 1)
    pos = {
        k: (np.cos(a), np.sin(a)) if n > 1 else (0.0, 0.0)
        for k, a in zip(names, angles)
    }
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, (layer_names, syn) in enumerate(ham.connections):
        c = colours[i % len(colours)]
        kind = type(ham.synapses[syn]).__name__
        label = f"{syn}\n({kind})"
        distinct = list(dict.fromkeys(layer_names))
        if len(distinct) == 1:  # unary synapse or self-connection: a loop
            x, y = pos[distinct[0]]
            r = 0.18 + 0.06 * i
            ax.add_patch(Circle((x * 1.25, y * 1.25), r, fill=False, ec=c, lw=1.5))
            ax.text(x * 1.25 + r, y * 1.25 + r, label, fontsize=7, color=c)
        elif len(distinct) == 2:
            (x1, y1), (x2, y2) = pos[distinct[0]], pos[distinct[1]]
            bend = 0.08 * (i % 3)
            mx, my = (x1 + x2) / 2 + bend, (y1 + y2) / 2 + bend
            ax.plot([x1, mx, x2], [y1, my, y2], color=c, lw=1.5)
            ax.text(mx, my, label, fontsize=7, color=c, ha="center")
        else:  # a hyperedge: a hub joined to each layer
            hx = float(np.mean([pos[k][0] for k in distinct]))
            hy = float(np.mean([pos[k][1] for k in distinct]))
            for k in distinct:
                ax.plot([hx, pos[k][0]], [hy, pos[k][1]], color=c, lw=1.5, ls="--")
            ax.plot([hx], [hy], marker="s", ms=12, color=c)
            ax.text(hx, hy - 0.15, label, fontsize=7, color=c, ha="center", va="top")
    for k in names:
        x, y = pos[k]
        layer = ham.neurons[k]
        lag = type(layer.lagrangian).__name__
        ax.add_patch(Circle((x, y), 0.12, color="white", ec="black", zorder=3))
        ax.text(
            x,
            y,
            f"{k}\n{layer.shape}\n{lag}",
            ha="center",
            va="center",
            fontsize=7,
            zorder=4,
        )
    ax.set_xlim(-1.8, 1.8)
    ax.set_ylim(-1.8, 1.8)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title(title or f"HAM: {n} layers, {len(ham.connections)} connections")
    return ax
