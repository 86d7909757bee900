"""The offline agent team: SciML discovery without an LLM.

* :mod:`.design` — the typed design space (:class:`Design`), with ``describe()`` and a stable ``key()``;
* :mod:`.render` — ``render_candidate(design)``: a complete, self-contained candidate module;
* :mod:`.analysis` — ``analyze_data(spec, train, query_inputs)``: the data analyst's facts and report;
* :mod:`.roles` — ``root_design``, ``debate`` (proposer and critic), ``debug``, ``analyze_result``;
* :mod:`.moves` — the SciML know-how the proposer and critic reason with.
"""

from agents.offline.analysis import DataAnalysis, analyze_data
from agents.offline.design import Design
from agents.offline.models import DebateResult, Message, Proposal, ProposalContext, SiblingSummary
from agents.offline.render import render_candidate
from agents.offline.roles import analyze_result, debate, debug, root_design

__all__ = [
    "DataAnalysis",
    "DebateResult",
    "Design",
    "Message",
    "Proposal",
    "ProposalContext",
    "SiblingSummary",
    "analyze_data",
    "analyze_result",
    "debate",
    "debug",
    "render_candidate",
    "root_design",
]
