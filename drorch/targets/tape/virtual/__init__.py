"""The virtual tape library: cartridges as AWSTAPE files, a changer as a JSON state file."""

from drorch.targets.tape.virtual.changer import VirtualChanger
from drorch.targets.tape.virtual.drive import VirtualDrive
from drorch.targets.tape.virtual.library import VirtualLibrary, barcode_series

__all__ = ["VirtualChanger", "VirtualDrive", "VirtualLibrary", "barcode_series"]
