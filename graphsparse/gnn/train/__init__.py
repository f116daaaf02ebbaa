"""One trainer and one evaluator for node classification, link prediction and graph prediction.

:func:`train_model` trains any model on a :class:`~graphsparse.gnn.data.LoadedDataset` under an
optional edge mask, evaluates it every epoch with the current masks, keeps the weights of the
best-validation epoch and returns a :class:`TrainResult` (validation and test metric at that
epoch, epochs run, seconds spent, optionally the inference time). :func:`evaluate`,
:func:`predict` and :func:`measure_inference` share its data preparation. Methods that find
graph lottery tickets (UGS, TEDDY, baselines) plug into it through :class:`TrainHooks`.

Tasks and protocols
-------------------
``"node"`` — full-batch training on the split's training nodes. Cross entropy for multiclass
    targets (Planetoid public split: accuracy), binary cross entropy on the labelled entries
    for binary targets, MSE for regression. Metric: OGB's ``Evaluator`` for OGB datasets,
    otherwise accuracy or ROC-AUC (of the positive class's probability).
``"link"`` — OGB's ogbl-ddi recipe: each epoch shuffles the training pairs into batches of
    ``batch_size`` (default 65,536); for every batch the encoder runs on the whole
    message-passing graph, the batch's positive pairs and as many negative pairs are scored,
    and the loss is ``BCE(pos, 1) + BCE(neg, 0)`` (means). Negatives are node pairs drawn
    uniformly from a ``torch.Generator`` seeded with ``seed`` (self-pairs and training edges —
    of the unmasked graph, in either direction — are rejected and redrawn). Evaluation scores
    OGB's validation and test pairs (positive and negative) with
    ``ogb.linkproppred.Evaluator`` (ogbl-ddi: Hits@20).
``"graph"`` — mini-batches of ``batch_size`` graphs (default 32), shuffled by the seeded
    generator; binary cross entropy on labelled entries (OGB marks missing labels NaN),
    MSE for regression, cross entropy for multiclass; ``ogb.graphproppred.Evaluator``
    (ogbg-molbace: ROC-AUC). Each collated graph carries ``g_id`` (its index in the dataset) and
    ``e_id`` (its edges' global ids).

Edge masks
----------
An edge mask covers the task's mask graph (:func:`graphsparse.gnn.edges.mask_graph`): the
message-passing graph of node and link tasks — never the supervision or negative pairs — and,
for graph tasks, the concatenated edges of every graph in dataset order (a global edge-id
vector; each batch uses ``mask[batch.e_id]``). ``edge_mask`` is a ``[E]`` tensor (bool, or
float in ``[0, 1]`` for the soft modes) or a
:class:`~graphsparse.gnn.edges.TrainableEdgeMask`; ``mode`` is that of
:func:`~graphsparse.gnn.edges.edge_mask`:

* ``"remove"``: the kept edges are selected once, before training (a TrainableEdgeMask
  contributes its binary ``kept`` state), and the model only ever sees them — the fast path
  (for GCN models, propagated as one sparse product per layer: :func:`spmm_propagation`).
* ``"weight"``/``"message"``: the mask is attached to every conv for training and evaluation,
  re-read at every forward, so a TrainableEdgeMask's values are trained: they join the
  optimiser and, unless ``clamp_edge_mask=False``, are projected onto ``[0, 1]`` after every
  optimiser step (:meth:`~graphsparse.gnn.edges.TrainableEdgeMask.clamp_`).

Weight masks are attached to the model beforehand with :func:`graphsparse.masks.attach`:
binary masks keep pruned weights exactly zero whatever the optimiser does; trainable masks
(``trainable=True``) are parameters of the model and are trained with it.

Plug-in points for methods (:class:`TrainHooks`)
------------------------------------------------
* ``parameters()`` — extra tensors to optimise (e.g. mask values kept outside the model);
* ``extra_loss(ctx)`` — a term added to the task loss (UGS: ``γ1‖m_g‖₁ + γ2‖m_θ‖₁``; TEDDY:
  ``λ·KL(teacher‖student)`` from ``ctx.out``);
* ``after_backward(ctx)`` — edit gradients (UGS's sub-gradient form of the L1 term);
* ``after_step(ctx)`` — after every optimiser step (TEDDY: projected gradient descent onto the
  L0 ball, zeroing the globally smallest-magnitude weights of the scope);
* ``on_epoch_end(record, model)`` — after every epoch's evaluation; return True to stop.

The :class:`StepContext` a hook receives holds the model, the epoch, the step, the outputs and
targets of the loss, the task loss and the task's inputs; for node tasks ``out`` covers all
nodes (``inputs["index"]`` are the training nodes), so distillation can use every node.
The optimiser is Adam over three named parameter groups (``"model"``, ``"edge_mask"``,
``"hooks"``) with the same ``lr`` and ``weight_decay`` — as in UGS, whose masks are decayed like
the weights; pass ``optimizer=`` to build another from the same groups.

Mini-batches, devices and processes
-----------------------------------
``minibatch=MiniBatch(batch_size, num_neighbors)`` trains node and link tasks on sampled
neighbourhoods through PyG's loaders, with edge masks acting on global edge ids
(:mod:`~graphsparse.gnn.train.minibatch`). ``device=`` moves the model (and with it the task's
data and masks) to a device (:func:`graphsparse.devices.resolve_device`). Under ``torchrun``
the model is wrapped in ``DistributedDataParallel`` and each rank trains on its shard of every
epoch's seeds (:mod:`~graphsparse.gnn.train.distributed`). :func:`training_settings` sets the
device and mini-batches for every training run in a block (a method's whole search).

Selection, determinism and timing
---------------------------------
The best epoch is the first with the highest validation metric (lowest for error metrics such
as RMSE); its test metric is reported and, with ``restore_best=True``, its weights (and the
TrainableEdgeMask's state) are loaded back at the end. Training runs inside
``torch.random.fork_rng`` seeded with ``seed`` (dropout), with a separate generator for
shuffling and negative sampling, so the same model, data and seed give bit-identical results
at a fixed thread count, and the caller's RNG state is left as it was. ``TrainResult``
records epochs, total seconds and the seconds spent in training steps and in evaluation;
``time_inference=True`` adds the median time of one inference pass (:func:`measure_inference`).

Modules
-------
* :mod:`~graphsparse.gnn.train.hooks` — the plug-in points and records (:class:`TrainHooks`,
  :class:`StepContext`, :class:`EpochRecord`, :class:`TrainResult`);
* :mod:`~graphsparse.gnn.train.metrics` — task losses and metrics;
* :mod:`~graphsparse.gnn.train.tasks` — node, link and graph tasks (data preparation, one epoch,
  evaluation, inference), negative sampling, :func:`spmm_propagation`;
* :mod:`~graphsparse.gnn.train.loop` — :func:`train_model`, :func:`evaluate`, :func:`predict`;
* :mod:`~graphsparse.gnn.train.inference` — :func:`measure_inference`;
* :mod:`~graphsparse.gnn.train.minibatch` — :class:`MiniBatch`, mini-batch node and link tasks;
* :mod:`~graphsparse.gnn.train.distributed` — process group, shards, rank agreement.

Example:
    >>> import torch
    >>> from graphsparse.gnn.data import load_dataset
    >>> from graphsparse.gnn.models import build_model
    >>> ds = load_dataset("sbm")
    >>> _ = torch.manual_seed(0)
    >>> model = build_model("gcn", ds.num_features, ds.num_classes, hidden=16)
    >>> result = train_model(model, ds, epochs=5, lr=0.05, weight_decay=5e-4, progress=False)
    >>> result.metric, result.epochs, result.test > 0.5
    ('acc', 5, True)
"""

from graphsparse.gnn.train.hooks import EpochRecord, StepContext, TrainHooks, TrainResult
from graphsparse.gnn.train.inference import measure_inference
from graphsparse.gnn.train import distributed
from graphsparse.gnn.train.loop import evaluate, predict, train_model, training_settings
from graphsparse.gnn.train.minibatch import MiniBatch
from graphsparse.gnn.train.tasks import spmm_propagation

__all__ = [
    "EpochRecord",
    "MiniBatch",
    "StepContext",
    "TrainHooks",
    "TrainResult",
    "evaluate",
    "measure_inference",
    "predict",
    "spmm_propagation",
    "train_model",
    "training_settings",
    "distributed",
]
