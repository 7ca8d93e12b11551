"""Settings every test shares."""

from hypothesis import settings

# Property tests draw the same examples on every run and every machine (issue 14: one
# fresh-clone run sat 16 minutes inside hypothesis's own mutation loop, another passed in
# 2.5 minutes): a run here that passes is the run CI makes.  Each test still sets how many
# examples it draws.
settings.register_profile("lab", derandomize=True, database=None, deadline=None)
settings.load_profile("lab")
