"""A browser playground that trains GANs from the library live on 2-D data (GAN Lab's idea, with our losses).

`datasets` adds two moons and drawn points to the library's toy mixtures, `params` turns what the page sends into a
run config, `engine` trains it with the library's own train step and renders frames, `session` runs one engine per
browser tab in a background thread, and `server` serves the page and streams frames as Server-Sent Events.
Start it with `python -m experiments.playground`.
"""
