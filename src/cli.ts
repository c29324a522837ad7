#!/usr/bin/env node
// `fpt-events`: the commands live in cli/, one module per command group.
import { main } from './cli/main.js';

void main(process.argv);
