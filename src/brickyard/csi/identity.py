"""The CSI Identity service."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import brickyard
from brickyard.csi import DRIVER_NAME

__all__ = ["Identity"]

Message = Any


class Identity:
    """GetPluginInfo, GetPluginCapabilities and Probe.

    ``probe`` is the readiness check of the modes served: the controller asks its server for
    ``GET /hello`` (raising a :class:`~brickyard.csi.errors.CsiError` when it does not answer);
    the node plugin is ready as soon as it listens."""

    def __init__(self, stubs: Any, *, controller: bool, probe: Callable[[], bool]) -> None:
        self.pb = stubs.pb2
        self.controller = controller
        self._probe = probe

    def GetPluginInfo(self, request: Message, context: Any) -> Message:
        return self.pb.GetPluginInfoResponse(name=DRIVER_NAME, vendor_version=brickyard.__version__)

    def GetPluginCapabilities(self, request: Message, context: Any) -> Message:
        cap = self.pb.PluginCapability
        capabilities = []
        if self.controller:
            capabilities.append(cap(service=cap.Service(type=cap.Service.CONTROLLER_SERVICE)))
        capabilities.append(
            cap(volume_expansion=cap.VolumeExpansion(type=cap.VolumeExpansion.ONLINE))
        )
        return self.pb.GetPluginCapabilitiesResponse(capabilities=capabilities)

    def Probe(self, request: Message, context: Any) -> Message:
        response = self.pb.ProbeResponse()
        response.ready.value = self._probe()
        return response
