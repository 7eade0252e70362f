"""The bundled VR-Bench suite (data only): suite.json and cases/*.jsonl. Installed as ``vrbench.prompts``."""
