"""drorch's format on tape, readable with mt, tar and restic alone.

    file 0     the label: a tar archive of DRORCH-LABEL.json, one 10240-byte record (label.py)
    file 1..n  archives: POSIX pax tar archives of restic repository files under their
               repository-relative paths, in records of the label's record size, the last
               padded with zeros (archive.py)
    file n+1   the index of the write session: a tar archive of DRORCH-INDEX.json listing
               every archive on the cartridge for its media set, with SHA-256 (index.py)

Each tape file ends with a filemark. A later session appends its archives over the
previous index's end and writes a new index, which lists the older archives too.
"""
