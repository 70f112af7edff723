"""``brickyard csi``: a CSI driver that provisions GlusterFS volumes through the Heketi REST API
(Brickyard's or Heketi's own), and mounts them on Kubernetes nodes. See docs/csi.md."""

DRIVER_NAME = "glusterfs.brickyard.io"

__all__ = ["DRIVER_NAME"]
