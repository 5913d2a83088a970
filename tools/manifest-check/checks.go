package main

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
)

// The CRD's pattern for monitoringv1.Duration (the +kubebuilder:validation:Pattern marker in
// pkg/apis/monitoring/v1/types.go): Prometheus durations, units largest first, each once.
var durationPattern = regexp.MustCompile(
	`^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$`)

var durationUnits = []struct {
	suffix string
	size   time.Duration
}{
	{"y", 365 * 24 * time.Hour}, {"w", 7 * 24 * time.Hour}, {"d", 24 * time.Hour},
	{"h", time.Hour}, {"m", time.Minute}, {"s", time.Second}, {"ms", time.Millisecond},
}

var (
	durationPart = regexp.MustCompile(`([0-9]+)(ms|y|w|d|h|m|s)`)
	// Prometheus's metric and label name rules (model.IsValidLegacyMetricName, LabelName).
	metricName = regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*$`)
	labelName  = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)
)

// parseDuration checks a duration against the CRD's pattern and returns its length.
func parseDuration(text string) (time.Duration, error) {
	if text == "" || !durationPattern.MatchString(text) {
		return 0, fmt.Errorf("%q is not a Prometheus duration (such as 30s, 5m, 1h30m)", text)
	}
	var total time.Duration
	for _, m := range durationPart.FindAllStringSubmatch(text, -1) {
		n, err := strconv.ParseInt(m[1], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%q: %v", text, err)
		}
		for _, u := range durationUnits {
			if u.suffix == m[2] {
				total += time.Duration(n) * u.size
			}
		}
	}
	return total, nil
}

func checkPodMonitor(pm *monitoringv1.PodMonitor) (string, []string) {
	problems := checkMetadata(&pm.ObjectMeta)
	spec := &pm.Spec
	if len(spec.Selector.MatchLabels) == 0 && len(spec.Selector.MatchExpressions) == 0 {
		problems = append(problems,
			"spec.selector is empty: it would select every pod of the namespace")
	} else if _, err := metav1.LabelSelectorAsSelector(&spec.Selector); err != nil {
		problems = append(problems, fmt.Sprintf("spec.selector: %v", err))
	}
	if len(spec.PodMetricsEndpoints) == 0 {
		problems = append(problems, "spec.podMetricsEndpoints is empty")
	}
	var described []string
	for i := range spec.PodMetricsEndpoints {
		ep := &spec.PodMetricsEndpoints[i]
		desc, epProblems := checkEndpoint(ep)
		described = append(described, desc)
		for _, p := range epProblems {
			problems = append(problems, fmt.Sprintf("spec.podMetricsEndpoints[%d]: %s", i, p))
		}
	}
	summary := fmt.Sprintf("%d endpoint(s): %s", len(described), strings.Join(described, "; "))
	return summary, problems
}

func checkEndpoint(ep *monitoringv1.PodMetricsEndpoint) (string, []string) {
	var problems []string
	port := ""
	switch {
	case ep.Port != nil:
		port = *ep.Port
		for _, msg := range validation.IsValidPortName(port) {
			problems = append(problems, fmt.Sprintf("port %q: %s", port, msg))
		}
	case ep.PortNumber != nil:
		port = strconv.Itoa(int(*ep.PortNumber))
		for _, msg := range validation.IsValidPortNum(int(*ep.PortNumber)) {
			problems = append(problems, fmt.Sprintf("portNumber %d: %s", *ep.PortNumber, msg))
		}
	case ep.TargetPort != nil:
		problems = append(problems, "targetPort is deprecated: name the port (port) or give portNumber")
	default:
		problems = append(problems, "no port: the operator would scrape every container port")
	}
	if ep.Path == "" {
		problems = append(problems, "no path (the operator would default to /metrics: say so)")
	} else if !strings.HasPrefix(ep.Path, "/") {
		problems = append(problems, fmt.Sprintf("path %q does not start with /", ep.Path))
	}
	if ep.Scheme != nil {
		switch strings.ToLower(string(*ep.Scheme)) {
		case "http", "https":
		default:
			problems = append(problems, fmt.Sprintf("scheme %q is not http or https", *ep.Scheme))
		}
	}
	var interval, timeout time.Duration
	var err error
	if ep.Interval != "" {
		if interval, err = parseDuration(string(ep.Interval)); err != nil {
			problems = append(problems, "interval: "+err.Error())
		}
	}
	if ep.ScrapeTimeout != "" {
		if timeout, err = parseDuration(string(ep.ScrapeTimeout)); err != nil {
			problems = append(problems, "scrapeTimeout: "+err.Error())
		}
	}
	if interval > 0 && timeout > interval {
		problems = append(problems, fmt.Sprintf("scrapeTimeout %s is longer than interval %s",
			ep.ScrapeTimeout, ep.Interval))
	}
	for j, rc := range append(append([]monitoringv1.RelabelConfig{}, ep.RelabelConfigs...),
		ep.MetricRelabelConfigs...) {
		if rc.Regex != "" {
			if _, err := regexp.Compile(rc.Regex); err != nil {
				problems = append(problems, fmt.Sprintf("relabeling %d: regex: %v", j, err))
			}
		}
	}
	if err := ep.HTTPConfigWithProxy.Validate(); err != nil {
		problems = append(problems, err.Error())
	}
	desc := fmt.Sprintf("port %s, path %s", port, ep.Path)
	if ep.Interval != "" {
		desc += ", interval " + string(ep.Interval)
	}
	return desc, problems
}

func checkPrometheusRule(pr *monitoringv1.PrometheusRule) (string, []string) {
	problems := checkMetadata(&pr.ObjectMeta)
	if len(pr.Spec.Groups) == 0 {
		problems = append(problems, "spec.groups is empty")
	}
	groupNames := map[string]bool{}
	records, alerts := 0, 0
	for g := range pr.Spec.Groups {
		group := &pr.Spec.Groups[g]
		at := fmt.Sprintf("spec.groups[%d]", g)
		if group.Name == "" {
			problems = append(problems, at+": no name")
		} else if groupNames[group.Name] {
			problems = append(problems, fmt.Sprintf("%s: group name %q is used twice", at, group.Name))
		}
		groupNames[group.Name] = true
		if group.Interval != nil {
			if _, err := parseDuration(string(*group.Interval)); err != nil {
				problems = append(problems, at+".interval: "+err.Error())
			}
		}
		if len(group.Rules) == 0 {
			problems = append(problems, at+": no rules")
		}
		for r := range group.Rules {
			rule := &group.Rules[r]
			ruleAt := fmt.Sprintf("%s.rules[%d]", at, r)
			if rule.Record != "" {
				records++
			} else {
				alerts++
			}
			for _, p := range checkRule(rule) {
				problems = append(problems, ruleAt+": "+p)
			}
		}
	}
	summary := fmt.Sprintf("%d group(s), %d recording rule(s), %d alert(s)",
		len(pr.Spec.Groups), records, alerts)
	return summary, problems
}

// checkRule checks one rule as Prometheus's rule file parser (rulefmt) would.
func checkRule(rule *monitoringv1.Rule) []string {
	var problems []string
	switch {
	case rule.Record != "" && rule.Alert != "":
		problems = append(problems, "has both record and alert")
	case rule.Record == "" && rule.Alert == "":
		problems = append(problems, "has neither record nor alert")
	case rule.Record != "":
		if !metricName.MatchString(rule.Record) {
			problems = append(problems, fmt.Sprintf("record %q is not a valid metric name", rule.Record))
		}
		if rule.For != nil || rule.KeepFiringFor != nil || len(rule.Annotations) > 0 {
			problems = append(problems, "a recording rule takes no for, keep_firing_for or annotations")
		}
	}
	// The operator types expr as int-or-string: `expr: 1` is PromQL too.
	if rule.Expr.Type == intstr.String && strings.TrimSpace(rule.Expr.StrVal) == "" {
		problems = append(problems, "expr is empty")
	}
	if rule.For != nil {
		if _, err := parseDuration(string(*rule.For)); err != nil {
			problems = append(problems, "for: "+err.Error())
		}
	}
	if rule.KeepFiringFor != nil {
		if _, err := parseDuration(string(*rule.KeepFiringFor)); err != nil {
			problems = append(problems, "keep_firing_for: "+err.Error())
		}
	}
	for _, m := range []map[string]string{rule.Labels, rule.Annotations} {
		for k := range m {
			if !labelName.MatchString(k) {
				problems = append(problems, fmt.Sprintf("%q is not a valid label name", k))
			}
		}
	}
	return problems
}
