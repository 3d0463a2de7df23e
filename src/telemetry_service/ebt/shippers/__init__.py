"""Shippers: the Elastic V3 server shipper and the pieces it is made of."""

from .elastic_v3_server import ElasticV3ServerShipper, ElasticV3ServerShipperConfig
from .send_policy import BATCH_ID_HEADER

__all__ = ["BATCH_ID_HEADER", "ElasticV3ServerShipper", "ElasticV3ServerShipperConfig"]
