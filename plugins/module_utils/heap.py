# -*- coding: utf-8 -*-
# Copyright: GEANT
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Python's cyclic garbage collector, kept out of the way of work that allocates a lot at once."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import gc


class PausedGc(object):
    """``with PausedGc():`` the cyclic collector is off inside (as it was again after).

    Objects are still freed by reference counting as usual; only reference cycles wait. Worth it where
    hundreds of thousands of objects are made at once (a node dump decoded, a sync of a large zone):
    the collector would otherwise walk the growing heap many times over.
    """

    def __enter__(self):
        self.enabled = gc.isenabled()
        gc.disable()
        return self

    def __exit__(self, *_exc):
        if self.enabled:
            gc.enable()
        return False
