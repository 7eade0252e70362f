"""The pipeline, one module per stage; each reads only the files the stage before it wrote.

    suite ─▶ generate ─▶ judge ─▶ score ─▶ (results ─▶ report, agreement, export)

- ``generate``: suite cases -> ``videos/*.mp4`` + ``generations.jsonl`` (+ ``run.json``)
- ``judge``: those videos x the cases' questions -> ``judgments/<judge>.jsonl`` (answers cached)
- ``score``: judgments -> ``scores/<judge>.json``

``vrbench/results.py`` reads what they wrote for everything downstream.
"""
