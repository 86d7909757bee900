"""The LLM-backed agent team: role prompts, debate, code editing and validation, recording and replay."""

from agents.llm.contract import ContractPolicy, ContractViolation, check_candidate, contract_problems
from agents.llm.editing import CodeAnswer, EditBlock, EditError, apply_edits, interpret_answer, parse_edit_blocks
from agents.llm.exchange import CodeRejected, LLMTeamError, StructuredAnswerError
from agents.llm.parsing import ParseError, extract_json, extract_python, parse_model
from agents.llm.prompts import PromptError, PromptTemplate, load_prompt
from agents.llm.recording import (
    Recorder, Recording, ReplayBook, ReplayDivergence, ReplayProvider, replay_factory, request_hash,
)
from agents.llm.team import EngineeringFailed, LLMTeam, ProposalError, TeamOptions

__all__ = [
    "CodeAnswer", "CodeRejected", "ContractPolicy", "ContractViolation", "EditBlock", "EditError",
    "EngineeringFailed", "LLMTeam", "LLMTeamError", "ParseError", "PromptError", "PromptTemplate",
    "ProposalError", "Recorder", "Recording", "ReplayBook", "ReplayDivergence", "ReplayProvider",
    "StructuredAnswerError", "TeamOptions", "apply_edits", "check_candidate", "contract_problems",
    "extract_json", "extract_python", "interpret_answer", "load_prompt", "parse_edit_blocks", "parse_model",
    "replay_factory", "request_hash",
]
