#!/usr/bin/env node
// This repository's `node bin/ramlgen.js`: the generator package in generator/ (see its bin).
import "../generator/bin/ramlgen.js";
