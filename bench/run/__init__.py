"""One benchmark run: `python -m bench.run` (the command), `workflow` (load, preprocess, build,
train and time), `record` (the result record's sections), `timing`, `inference` (prediction
speed) and `roofline` (training FLOPs and the machine's peak)."""
