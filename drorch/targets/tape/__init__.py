"""Tape: drives and changers behind one interface each, virtual or Linux SCSI."""
