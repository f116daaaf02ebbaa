"""Graph datasets for ``graphsparse.gnn``: one function over the standard PyG and OGB loaders.

:func:`load_dataset` takes a dataset name and a data root and returns a :class:`LoadedDataset`
(the PyG data, the task, the split, sizes and the evaluation metric). The same call reads a
local copy of the raw files (for example the repository's ``../shared/data``) and, on a
networked machine, downloads what is missing. :func:`synthetic_sbm` builds the seeded
stochastic-block-model graph that demos and fast tests use (``load_dataset("sbm")``).

Where files live
----------------
* **Data root** (raw files, may be read-only): the ``root`` argument, else
  :func:`graphsparse.paths.data_root` (``$GRAPHSPARSE_DATA``, the shared folder, or
  ``~/.graphsparse/data``). The layout is the loaders' own: ``<root>/Planetoid/Cora/raw/``,
  ``<root>/Amazon/Computers/raw/``, ``<root>/Coauthor/CS/raw/``, ``<root>/WebKB/cornell/raw/``,
  ``<root>/Actor/raw/``, ``<root>/HeterophilousGraphDataset/tolokers/raw/``,
  ``<root>/ogb/ogbl_ddi/`` (``raw/``, ``split/``, ``mapping/``, ``RELEASE_v1.txt``).
* **Cache** (processed files): nothing is ever written into the data root by processing. For each
  dataset a *mirror* folder ``<cache>/datasets/<root-name>-<hash of root>/<same layout>`` is made
  under :func:`graphsparse.paths.cache_root` (``$GRAPHSPARSE_CACHE``) whose entries are symlinks
  to the data root's entries (``raw``; for OGB also ``split``, ``mapping``, ``RELEASE_v*.txt``),
  and the loader is pointed at the mirror, so it writes ``processed/`` there. The mirror is
  keyed by the data root, so two roots never share processed files. A file lock per mirror
  serialises first-time processing across processes.
* **Stale processed files**: beside each mirror's ``processed/`` a manifest
  ``.graphsparse-processed.json`` records the size and mtime of every file under the data
  root's ``raw/`` as they were when ``processed/`` was built (written atomically, only after a
  successful load). When they differ (a raw file replaced, added or removed) or there is no
  manifest, ``processed/`` is removed with a one-line ``UserWarning`` and the raw files are
  processed again (:mod:`~graphsparse.gnn.data.freshness`). A replacement with the same size
  and mtime is not noticed: delete the mirror folder to force reprocessing.

Missing raw files: the offline rule
-----------------------------------
If a dataset's raw files are missing and downloads are not allowed, :class:`DatasetNotFoundError`
is raised at once, naming the dataset, the data root and every expected path. Downloads are not
allowed when ``GRAPHSPARSE_OFFLINE`` is true or the data root is the shared folder
(:func:`graphsparse.paths.downloads_allowed`). A data root that does not exist is then refused
the same way, naming the path, before anything is created (in the data root or the cache); a
data root that is a file is always refused. Otherwise the download happens: PyG loaders fetch
into ``<root>/.../raw`` (through the mirror's symlink, so the raw files land in the data root);
for OGB, graphsparse fetches the dataset's zip from the URL in ogb's ``master.csv`` with ogb's
own ``download_url``/``extract_zip`` into ``<root>/ogb/`` (extracted beside the target and
renamed into place) and then loads it like a local copy. ogb's "download more than 1 GB?"
prompt is therefore never shown. If a download fails, the files it added to ``raw/`` and the
folders graphsparse created for it (up to the data root itself, if it did not exist) are
removed, and :class:`DatasetNotFoundError` says what failed (the original error is chained)
and where to place the raw files instead (:mod:`~graphsparse.gnn.data.download`).

Damaged raw files (OGB)
-----------------------
Before an OGB dataset is loaded, the raw tables ogb reads and the official ``split/<name>``
files must exist (else :class:`DatasetNotFoundError` names the missing paths, or the missing
split folder, under the data root). While ogb reads them, a file that is truncated or corrupt
(``EOFError``, ``gzip.BadGzipFile``, ``zlib.error``, a pandas parser error, an unreadable
``.pt``) or holds non-numeric values raises :class:`DatasetCorruptError` (a ``ValueError``),
naming the file's path under the data root, never the cache mirror's link. Before the processed
file is saved the row counts must agree: node features and node labels with the sum of
``num-node-list``, edges and edge features with the sum of ``num-edge-list``, graph labels and
``num-edge-list`` with the number of graphs; a mismatch raises :class:`DatasetCorruptError`
naming the file and both counts (:mod:`~graphsparse.gnn.data.ogb_checks`). The PyG loaders'
raw files are not checked this way.

OGB quirks handled
------------------
See :mod:`graphsparse.gnn.data.ogb` (torch >= 2.6 safe loading, ogb's interactive version prompt).

Splits
------
* Planetoid (Cora, CiteSeer, PubMed): the public split (20 labels per class, 500 val, 1000 test).
* OGB: the official split (``get_idx_split``/``get_edge_split``).
* WebKB, Actor and the heterophilous sets: the 10 provided splits; ``split_index`` picks one
  (default 0).
* Amazon, Coauthor and ``sbm`` have no standard split: :func:`random_node_split` with
  ``seed=split_seed`` draws 20 training and 30 validation nodes per class (Shchur et al.,
  *Pitfalls of GNN Evaluation*, 2018); every other node is a test node. ``split_seed`` and a
  description of the protocol are recorded in the result.

Node features
-------------
The PyG loaders return dense float features (they densify the bag-of-words matrices they read).
With ``feature_layout="auto"`` (default) graphsparse returns bag-of-words features (Planetoid,
Amazon, Coauthor, WebKB, Actor) as a ``torch.sparse_csr`` float32 tensor, which a linear layer
multiplies several times faster than the dense matrix (Coauthor-CS: 0.9 % non-zeros), and every
other feature matrix as the loader gives it. ``"dense"`` and ``"sparse"`` force a layout.
Sparse-CSR ``x`` works with layers that transform before they aggregate (``torch.nn.Linear``,
PyG ``GCNConv``, ``GATConv``); layers that aggregate raw features first (``SAGEConv``,
``GINConv``) need a dense ``x`` or an input ``Linear``. The dataset object keeps the loader's
own (dense) copy.

Modules
-------
* :mod:`~graphsparse.gnn.data.registry` — the dataset table, :func:`available_datasets`,
  :func:`load_dataset`;
* :mod:`~graphsparse.gnn.data.dataset` — :class:`LoadedDataset`, :class:`DatasetNotFoundError`,
  :class:`DatasetCorruptError`;
* :mod:`~graphsparse.gnn.data.mirror` — cache mirrors of the data root and download refusals;
* :mod:`~graphsparse.gnn.data.freshness` — rebuilding processed files when raw files change;
* :mod:`~graphsparse.gnn.data.download` — a missing data root, failed downloads;
* :mod:`~graphsparse.gnn.data.ogb_checks` — OGB files present, readable and consistent;
* :mod:`~graphsparse.gnn.data.pyg`, :mod:`~graphsparse.gnn.data.ogb` — the PyG and OGB loaders;
* :mod:`~graphsparse.gnn.data.splits` — :func:`random_node_split`;
* :mod:`~graphsparse.gnn.data.features` — node-feature layouts;
* :mod:`~graphsparse.gnn.data.synthetic` — :func:`synthetic_sbm` and the ``"sbm"`` dataset.
"""

from graphsparse.gnn.data.dataset import DatasetCorruptError, DatasetNotFoundError, LoadedDataset
from graphsparse.gnn.data.registry import available_datasets, load_dataset
from graphsparse.gnn.data.splits import random_node_split
from graphsparse.gnn.data.synthetic import synthetic_sbm

__all__ = [
    "DatasetCorruptError",
    "DatasetNotFoundError",
    "LoadedDataset",
    "available_datasets",
    "load_dataset",
    "random_node_split",
    "synthetic_sbm",
]
