"""The analysis: one tidy table of runs and every verdict drawn from it, computed once.

The suite reads it to decide when to stop, the report and compare to present it. It reads
result, probe and schedule files only: it imports no backend and draws nothing.
"""
