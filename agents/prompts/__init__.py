"""Role prompt templates (markdown with a front matter), shipped as package data; see agents/llm/prompts.py."""
