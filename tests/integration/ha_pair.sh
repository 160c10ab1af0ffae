#!/usr/bin/env bash
# placeholder replaced below
