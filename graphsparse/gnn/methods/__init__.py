"""Graph-lottery-ticket methods: each a strategy on the one trainer (:func:`~graphsparse.gnn.
train.train_model` + :class:`~graphsparse.gnn.train.TrainHooks`), with the same edge units,
weight scopes and rounding rule (see :mod:`graphsparse.gnn.methods._common`).

=================  ===========================================================================
name               method
=================  ===========================================================================
``"ugs"``          UGS (Chen et al., ICML 2021): trainable edge + weight masks with L1, iterative
                   rounds, rewinding to θ₀ (:func:`~graphsparse.gnn.methods.ugs.ugs`)
``"teddy"``        TEDDY (Seo et al., ICLR 2024): degree score, distillation, PGD on the L0 ball
                   (:func:`~graphsparse.gnn.methods.teddy.teddy`)
``"random"``       random edges + random weights
``"magnitude"``    one-shot magnitude weights (rewound), random edges
``"imp"``          iterative magnitude pruning with rewinding, random edges
``"jaccard"``      Jaccard-similarity edges + random weights
``"adamic_adar"``  Adamic–Adar edges + random weights
``"fastglt"``      FastGLT (Yue et al., AAAI 2025): one-shot pruning + prune-and-regrow
                   denoising of edges and weights (:func:`~graphsparse.gnn.methods.fastglt.
                   fastglt`)
``"adaglt"``       AdaGLT (Zhang et al., ICLR 2024): layer-adaptive learnable thresholds with
                   straight-through masks, projected to the exact counts
                   (:func:`~graphsparse.gnn.methods.adaglt.adaglt`)
=================  ===========================================================================

Every method is a :class:`~graphsparse.gnn.methods.base.Method` with one entry point,
``METHODS[name].search(model, dataset, targets, *, scope, train_config, method_options,
on_level, on_epoch=None, checkpoint_dir=None)`` (see :mod:`graphsparse.gnn.methods.base`);
it is also callable as its function, ``METHODS[name](model, dataset, graph_targets=[...],
weight_targets=[...], weight_scope=..., epochs=..., lr=..., weight_decay=..., seed=...,
progress=..., **options)``, returning a
:class:`~graphsparse.gnn.methods._common.SearchResult`. Iterative methods (:data:`ITERATIVE`)
run one round per target entry; one-shot methods use the last entry. :data:`DENSE` is the
dense baseline of a sweep.
"""

from __future__ import annotations

from graphsparse.checks import check_known
from graphsparse.gnn.methods._common import SearchResult, check_scope, initial_state
from graphsparse.gnn.methods.base import (
    IterativeMethod,
    LevelResult,
    Method,
    OneShotMethod,
    TrainConfig,
)
from graphsparse.gnn.methods.baselines import (
    imp_ticket,
    magnitude_ticket,
    random_ticket,
    structural_ticket,
)
from graphsparse.gnn.methods.adaglt import adaglt
from graphsparse.gnn.methods.dense import DENSE, DenseMethod, dense_outputs, train_dense
from graphsparse.gnn.methods.fastglt import fastglt
from graphsparse.gnn.methods.teddy import (
    Distillation,
    GraphTeacher,
    L0Projection,
    LinkTeacher,
    TeddyMethod,
    binary_kl,
    make_teacher,
    teacher_logits,
    teddy,
)
from graphsparse.gnn.methods.ugs import UGSPenalty, UGSRound, reset_mask_values, ugs

__all__ = [
    "DENSE",
    "DEFAULT_SCOPES",
    "DenseMethod",
    "IterativeMethod",
    "LevelResult",
    "Method",
    "OneShotMethod",
    "TeddyMethod",
    "TrainConfig",
    "train_dense",
    "dense_outputs",
    "adaglt",
    "fastglt",
    "ITERATIVE",
    "METHODS",
    "Distillation",
    "GraphTeacher",
    "L0Projection",
    "LinkTeacher",
    "SearchResult",
    "UGSPenalty",
    "UGSRound",
    "binary_kl",
    "check_scope",
    "get_method",
    "imp_ticket",
    "initial_state",
    "magnitude_ticket",
    "make_teacher",
    "random_ticket",
    "reset_mask_values",
    "structural_ticket",
    "teacher_logits",
    "teddy",
    "ugs",
]

#: Method name -> :class:`~graphsparse.gnn.methods.base.Method` (see the module documentation).
#: UGS masks linear weights only, TEDDY counts every parameter; baselines follow UGS.
METHODS: dict[str, Method] = {
    "ugs": IterativeMethod("ugs", ugs, "linear"),
    "teddy": TeddyMethod("teddy", teddy, "all"),
    "random": OneShotMethod("random", random_ticket, "linear"),
    "magnitude": OneShotMethod("magnitude", magnitude_ticket, "linear"),
    "imp": IterativeMethod("imp", imp_ticket, "linear"),
    "jaccard": OneShotMethod("jaccard", structural_ticket, "linear", edge_score="jaccard"),
    "adamic_adar": OneShotMethod("adamic_adar", structural_ticket, "linear",
                                 edge_score="adamic_adar"),
    "fastglt": OneShotMethod("fastglt", fastglt, "linear"),
    "adaglt": OneShotMethod("adaglt", adaglt, "linear"),
}

#: Methods that run one round per target (the others are one-shot).
ITERATIVE = frozenset(name for name, method in METHODS.items() if method.iterative)

#: The weight scope each method counts by default.
DEFAULT_SCOPES = {name: method.default_scope for name, method in METHODS.items()}


def get_method(name: str) -> Method:
    """The method called ``name`` (``"dense"``: the dense baseline); ``ValueError`` listing the
    valid names otherwise.

    >>> get_method("ugs").__name__
    'ugs'
    >>> get_method("wd-glt")
    Traceback (most recent call last):
    ...
    ValueError: unknown method 'wd-glt'; valid methods: 'ugs', 'teddy', 'random', 'magnitude', 'imp', 'jaccard', 'adamic_adar', 'fastglt', 'adaglt'
    """
    if name == "dense":
        return DENSE
    return METHODS[check_known(name, "method", METHODS)]
