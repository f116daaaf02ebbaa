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
=================  ===========================================================================

Every method is called as ``METHODS[name](model, dataset, graph_targets=[...],
weight_targets=[...], weight_scope=..., epochs=..., lr=..., weight_decay=..., seed=...,
progress=..., **options)`` and returns a
:class:`~graphsparse.gnn.methods._common.SearchResult`. Iterative methods (:data:`ITERATIVE`)
run one round per target entry; one-shot methods use the last entry.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from graphsparse.gnn.methods._common import SearchResult, check_scope
from graphsparse.gnn.methods.baselines import (
    imp_ticket,
    magnitude_ticket,
    random_ticket,
    structural_ticket,
)
from graphsparse.gnn.methods.teddy import (
    Distillation,
    GraphTeacher,
    L0Projection,
    LinkTeacher,
    binary_kl,
    make_teacher,
    teacher_logits,
    teddy,
)
from graphsparse.gnn.methods.ugs import UGSPenalty, UGSRound, reset_mask_values, ugs

__all__ = [
    "DEFAULT_SCOPES",
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
    "magnitude_ticket",
    "make_teacher",
    "random_ticket",
    "reset_mask_values",
    "structural_ticket",
    "teacher_logits",
    "teddy",
    "ugs",
]

#: Method name -> function (see the module documentation).
METHODS: dict[str, Callable[..., SearchResult]] = {
    "ugs": ugs,
    "teddy": teddy,
    "random": random_ticket,
    "magnitude": magnitude_ticket,
    "imp": imp_ticket,
    "jaccard": partial(structural_ticket, edge_score="jaccard"),
    "adamic_adar": partial(structural_ticket, edge_score="adamic_adar"),
}

#: Methods that run one round per target (the others are one-shot).
ITERATIVE = frozenset({"ugs", "imp"})

#: The weight scope each method counts by default: UGS masks linear weights only, TEDDY every
#: parameter; baselines follow UGS.
DEFAULT_SCOPES = {"ugs": "linear", "teddy": "all", "random": "linear", "magnitude": "linear",
                  "imp": "linear", "jaccard": "linear", "adamic_adar": "linear"}


def get_method(name: str) -> Callable[..., SearchResult]:
    """The method called ``name``; ``ValueError`` listing the valid names otherwise.

    >>> get_method("ugs").__name__
    'ugs'
    >>> get_method("wd-glt")
    Traceback (most recent call last):
    ...
    ValueError: unknown method 'wd-glt'; valid methods: 'ugs', 'teddy', 'random', 'magnitude', 'imp', 'jaccard', 'adamic_adar'
    """
    if name not in METHODS:
        raise ValueError(f"unknown method {name!r}; valid methods: "
                         f"{', '.join(map(repr, METHODS))}")
    return METHODS[name]
