"""`vizcore project`: a 2-D / 3-D map of vectors (a `vizcore embed` folder, .npy, Parquet, TSV, CSV) as map.parquet."""

from __future__ import annotations

import resource
from pathlib import Path

from vizcore.analysis import projection
from vizcore.io import vectors


def add(sub) -> None:
    p = sub.add_parser("project", help="map vectors to 2-D / 3-D (PCA, t-SNE, UMAP) and write map.parquet",
                       epilog="Example: vizcore project run/ --method umap --fast (writes run/map.parquet, which "
                              "the projector page shows when it opens run/); vizcore project emb.npy --method tsne "
                              "--out emb_map.parquet")
    p.add_argument("vectors", type=Path, help="a `vizcore embed` folder, or a .npy / .parquet / .tsv / .csv file")
    p.add_argument("--method", choices=projection.METHODS, default="umap")
    p.add_argument("--out", type=Path, default=None, help="default: map.parquet in the folder (or beside the file)")
    p.add_argument("--dims", type=int, choices=[2, 3], default=2)
    p.add_argument("--metric", choices=projection.METRICS, default="euclidean")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--fast", action="store_true", help="UMAP: parallel, no seed (about 2x faster, NOT reproducible)")
    p.add_argument("--n-neighbors", type=int, default=15, help="UMAP: 2-1000")
    p.add_argument("--min-dist", type=float, default=0.1, help="UMAP: 0-1")
    p.add_argument("--perplexity", type=float, default=30.0, help="t-SNE: 1-500")
    p.add_argument("--max-iter", type=int, default=1000, help="t-SNE: 250-10000")
    p.set_defaults(run=_project)


def _params(args) -> dict:
    if args.method == "umap":
        return {"n_neighbors": args.n_neighbors, "min_dist": args.min_dist, "metric": args.metric,
                "mode": "fast" if args.fast else "seeded"}
    if args.method == "tsne":
        return {"perplexity": args.perplexity, "max_iter": args.max_iter, "metric": args.metric}
    return {}


def _project(args) -> int:
    import pyarrow as pa
    import pyarrow.parquet as pq

    v = vectors.load(args.vectors)
    print(f"{len(v):,} vectors of {v.X.shape[1]} dims from {v.source}", flush=True)
    proj = projection.run(v.X, method=args.method, dims=args.dims, seed=args.seed,
                          progress=lambda f, msg: print(msg, flush=True), **_params(args))
    out = args.out or ((args.vectors if args.vectors.is_dir() else args.vectors.parent) / vectors.MAP_FILE)
    ids = v.metadata["id"].astype(str).tolist() if "id" in v.metadata.columns else [str(i) for i in range(len(v))]
    columns = {"id": ids, **{"xyz"[j]: proj.coords[:, j] for j in range(args.dims)}}
    table = pa.table(columns).replace_schema_metadata({"method": args.method, "params": str(proj.params),
                                                       "reproducible": str(proj.reproducible)})
    pq.write_table(table, out)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"wrote {out} ({args.method.upper()} {args.dims}-D of {len(v):,} points in {proj.seconds:.1f} s; "
          f"peak memory {peak:,.0f} MB){'' if proj.reproducible else '; fast mode: not reproducible'}")
    return 0
