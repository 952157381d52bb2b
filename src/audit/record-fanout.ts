// Off the decision path: masks each record once, renders its lines once per format, and hands them to the ring and every destination.
import type { AuditMaskRule } from '../config/types.js';
import type { AuditDestination } from './destination.js';
import { createMasker, mayHoldCredential } from './mask.js';
import { toOpaEvent } from './opa-event.js';
import { createRecordJson } from './record-json.js';
import { compactRecord, RecordTemplates } from './record-template.js';
import type { AuditRecord } from './record.js';
import type { AuditRing } from './ring.js';

export interface RecordFanOutOptions {
  readonly mask: readonly AuditMaskRule[];
  readonly ring: AuditRing;
  readonly destinations: readonly AuditDestination[];
  /** OPA labels stamped on every OPA-format record. */
  readonly labels: Readonly<Record<string, string>>;
}

interface Rendered {
  readonly masked: AuditRecord;
  /** Its mandate-format JSON, when already rendered. */
  readonly json?: string;
  /** What the ring keeps instead of `masked` (a template's compact form). */
  readonly kept?: AuditRecord;
  readonly ascii?: boolean;
}

/**
 * Returns the fan-out of one record: it throws when the record cannot be rendered (a value JSON
 * cannot hold), having handed it to none or some of the destinations.
 */
export function createRecordFanOut(options: RecordFanOutOptions): (record: AuditRecord) => void {
  const { ring, destinations, labels } = options;
  const mask = createMasker(options.mask);
  /**
   * With no mask rules, a record the precheck clears is already its masked self. Serialising to
   * find out costs no more than the structural scrub, and a repeated record's line is nearly free
   * (record-template.ts); a mandate-format sink writes that very line.
   */
  const precheck = options.mask.length === 0;
  const templates = new RecordTemplates();
  const recordJson = createRecordJson();

  /**
   * The masked record, and its mandate-format JSON when already rendered. Serialising first lets
   * the usual, clean record skip the structural scrub: with no mask rules, a line the precheck
   * clears is exactly what masking would produce. A record JSON refuses as it is (a cycle, which
   * masking cuts) is masked first, as before.
   */
  const render = (record: AuditRecord): Rendered => {
    if (!precheck) return { masked: mask(record) };
    const templated = templates.lineOf(record);
    if (templated !== undefined) {
      if (!templated.mayHoldCredential) {
        const kept = templated.first === record ? record : compactRecord(templated.first, record);
        return { masked: record, json: templated.json, kept, ascii: templated.ascii };
      }
      const masked = mask(record);
      return masked === record ? { masked, json: templated.json } : { masked };
    }
    let json: string;
    try {
      json = recordJson(record);
    } catch {
      return { masked: mask(record) };
    }
    if (!mayHoldCredential(json)) return { masked: record, json };
    const masked = mask(record);
    return masked === record ? { masked, json } : { masked };
  };

  return (record) => {
    const { masked, json, kept, ascii } = render(record);
    ring.push(kept ?? masked);
    let mandateLine = json === undefined ? undefined : `${json}\n`;
    // Known only for a line written from a template; a full render is not scanned for it.
    const mandateAscii = json !== undefined && ascii === true;
    let opaLine: string | undefined;
    for (const d of destinations) {
      if (d.format === 'opa') {
        d.add(masked, (opaLine ??= `${JSON.stringify(toOpaEvent(masked, labels))}\n`), false);
      } else {
        d.add(masked, (mandateLine ??= `${recordJson(masked)}\n`), mandateAscii);
      }
    }
  };
}
