// Runs a batch of IAM simulations with @cloud-copilot/iam-simulate (AGPL-3.0-or-later) and
// prints one result per simulation. A separate development-time process: the Python side
// (access_proofs) writes {"simulations": [{"id", "simulation"}]} on stdin and reads
// {"engine", "results": [{"id", "resultType", "overallResult", "denials", "grants",
// "ignoredContextKeys", "errors"}]} from stdout. One process serves every scenario.
import { readFileSync } from 'node:fs'
import { runSimulation, getDenialReasons, getGrantReasons } from '@cloud-copilot/iam-simulate'

// The package's exports hide its package.json; read it beside this script.
const version = JSON.parse(readFileSync(new URL('./node_modules/@cloud-copilot/iam-simulate/package.json', import.meta.url), 'utf8')).version

const input = JSON.parse(readFileSync(0, 'utf8'))
const results = []
for (const { id, simulation } of input.simulations) {
  const response = await runSimulation(simulation, { simulationMode: 'Strict' })
  if (response.resultType === 'error') {
    results.push({ id, resultType: 'error', errors: response.errors })
    continue
  }
  // A request on one concrete ARN gives one result; keep the wildcard shape for completeness.
  const analyses = response.resultType === 'single' ? [response.result] : response.results
  results.push({
    id,
    resultType: response.resultType,
    overallResult: response.overallResult,
    denials: analyses.flatMap((r) => (r.analysis ? getDenialReasons(r.analysis) : [])),
    grants: analyses.flatMap((r) => (r.analysis && r.analysis.result === 'Allowed' ? getGrantReasons(r.analysis) : [])),
    ignoredContextKeys: [...new Set(analyses.flatMap((r) => r.ignoredContextKeys || []))].sort(),
  })
}
process.stdout.write(JSON.stringify({ engine: `@cloud-copilot/iam-simulate@${version}`, results }))
