// The parts of the Prometheus Operator's custom resources (monitoring.coreos.com/v1) the chart
// renders, written from the CRDs' OpenAPI schemas: ServiceMonitor and PrometheusRule. Every
// interface is closed, so a misspelt field fails the type check as it would fail the CRD's
// structural schema on the API server.
import { ObjectMeta, LabelSelector } from "kubernetes-types/meta/v1";

export interface NamespaceSelector {
  any?: boolean;
  matchNames?: string[];
}

export interface Endpoint {
  port?: string;
  targetPort?: number | string;
  path?: string;
  scheme?: "http" | "https";
  interval?: string;
  scrapeTimeout?: string;
  honorLabels?: boolean;
  params?: { [name: string]: string[] };
}

export interface ServiceMonitorSpec {
  jobLabel?: string;
  targetLabels?: string[];
  podTargetLabels?: string[];
  endpoints: Endpoint[];
  selector: LabelSelector;
  namespaceSelector?: NamespaceSelector;
  sampleLimit?: number;
}

export interface ServiceMonitor {
  apiVersion: "monitoring.coreos.com/v1";
  kind: "ServiceMonitor";
  metadata: ObjectMeta;
  spec: ServiceMonitorSpec;
}

export interface Rule {
  alert?: string;
  record?: string;
  expr: string | number;
  for?: string;
  keep_firing_for?: string;
  labels?: { [name: string]: string };
  annotations?: { [name: string]: string };
}

export interface RuleGroup {
  name: string;
  interval?: string;
  limit?: number;
  partial_response_strategy?: string;
  rules: Rule[];
}

export interface PrometheusRule {
  apiVersion: "monitoring.coreos.com/v1";
  kind: "PrometheusRule";
  metadata: ObjectMeta;
  spec: { groups: RuleGroup[] };
}
