"""``govguard demo``: the example district running on this machine, clearly labelled demo.

- :mod:`.run`: the orchestration (init, import, child processes, bounded ``--smoke`` run);
- :mod:`.network`: snmpsim recordings of the district and the demo's organisation file;
- :mod:`.fleet`: the simulated office PCs, enrolled and reporting through the agent's code;
- :mod:`.reports`: what each simulated PC reports (the agent's report models);
- :mod:`.processes`: the child processes, stopped cleanly on Ctrl-C.
"""
