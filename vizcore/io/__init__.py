"""Untrusted input: safe image decoding (`images.load_image`, bounded bytes / pixels / aspect, no Pillow error
escapes) and untrusted archives and folders (`archives`: size, member-count, compression-ratio and path checks).

Everything a user hands vizcore passes through here first. May import: `vizcore.errors` only.
"""
