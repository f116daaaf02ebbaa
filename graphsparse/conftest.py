"""Names available to every docstring example run by ``pytest --doctest-modules``.

The examples use the conventional short names (as networkx's and numpy's docs do):
``np``, ``sp`` (scipy.sparse), ``nx``, ``torch``, ``nn`` and ``NetworkGraph``.
"""

import networkx as nx
import numpy as np
import pytest
import scipy.sparse as sp
import torch
from torch import nn


@pytest.fixture(autouse=True)
def _doctest_names(doctest_namespace):
    from graphsparse.topology import NetworkGraph

    doctest_namespace.update(np=np, sp=sp, nx=nx, torch=torch, nn=nn, NetworkGraph=NetworkGraph)
