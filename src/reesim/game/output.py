"""Writing a game's results: payoffs.parquet, equilibria.json, repeated paths, the resolved game, report.html."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import yaml

from reesim.atomic import atomic_folder
from reesim.game.payoffs import PayoffTensor
from reesim.game.profiles import Bundles


def resolved_game(t: PayoffTensor, b: Bundles) -> str:
    """The game with every strategy's instruments spelled out (YAML)."""
    data = json.loads(t.game.model_dump_json(exclude_none=True))
    data["base_scenario"] = json.loads(b.base.model_dump_json(exclude_none=True))
    for pl in data["players"]:
        for s in pl["strategies"]:
            s["resolved_instruments"] = list(b.instruments[(pl["name"], s["name"])])
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


def repeated_table(paths: list) -> pd.DataFrame:
    """One table of every repeated path (``path`` names the rule combination)."""
    frames = []
    for n, p in enumerate(paths, start=1):
        label = f"path {n}: " + ", ".join(f"{k} {v}" for k, v in p.rules.items())
        frames.append(p.table.assign(path=label))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def write_game(
    directory: Path,
    t: PayoffTensor,
    b: Bundles,
    analysis: dict,
    repeated: list | None = None,
    *,
    report: bool = True,
    ensemble=None,
) -> Path:
    """Write the game's results into a new folder, atomically.

    With ``ensemble`` (:class:`reesim.game.ensemble.EnsembleGame`) also ``ensemble_payoffs.parquet``
    (every member's payoffs), ``ensemble_summary.parquet`` (mean, p5, p95 and equilibrium share
    per profile and player) and ``ensemble_design.parquet`` (each member's inputs, status and the builds that computed it).
    """
    from reesim.cache import identity

    meta = identity()
    with atomic_folder(directory) as tmp:
        t.table().to_parquet(tmp / "payoffs.parquet", index=False)
        doc = {**meta, **analysis}
        if builds := t.builds():  # which builds computed the base and each profile
            doc["builds"] = builds
        if repeated:
            doc["repeated"] = [
                {"rules": p.rules, "pv_usd_million": p.pv_usd_million, "simulations": p.simulations}
                for p in repeated
            ]
            repeated_table(repeated).to_parquet(tmp / "repeated.parquet", index=False)
        if ensemble is not None:
            ensemble.long().to_parquet(tmp / "ensemble_payoffs.parquet", index=False)
            ensemble.table().to_parquet(tmp / "ensemble_summary.parquet", index=False)
            ensemble.design.to_parquet(tmp / "ensemble_design.parquet", index=False)
            doc["ensemble"] = {
                "members_in_design": len(ensemble.design),
                "members_ok": len(ensemble.members),
                "member_runtimes": ensemble.member_runtimes,  # ensemble_design.parquet's runtimes ids
                "equilibrium_share": {
                    r.profile: r.equilibrium_share
                    for r in ensemble.table().drop_duplicates("profile").itertuples(index=False)
                    if r.equilibrium_share > 0
                },
            }
        (tmp / "equilibria.json").write_text(json.dumps(doc, indent=2, default=str))
        (tmp / "game.resolved.yaml").write_text(resolved_game(t, b))
        if report:  # from the files just written, as the server renders it (one path for both)
            write_game_report(tmp)
    return Path(directory)


def write_game_report(folder: Path) -> Path:
    """Render ``folder/report.html`` again from a game folder's own files (``equilibria.json``,
    ``payoffs.parquet``, ``repeated.parquet`` if any), atomically."""
    import pandas as pd

    from reesim.atomic import write_file_atomic
    from reesim.reports.game import render_game

    folder = Path(folder)
    doc = json.loads((folder / "equilibria.json").read_text(encoding="utf-8"))
    rep = folder / "repeated.parquet"
    html = render_game(
        doc, pd.read_parquet(folder / "payoffs.parquet"), pd.read_parquet(rep) if rep.is_file() else None
    )
    return write_file_atomic(folder / "report.html", lambda tmp: tmp.write_text(html, encoding="utf-8"))
