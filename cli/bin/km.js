#!/usr/bin/env node
'use strict';
// The built bundle (npm run build). In a clone, `npm ci` builds it through the root prepare script.
require('../dist/bundle/km.js');
