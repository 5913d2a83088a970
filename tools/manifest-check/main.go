// manifest-check decodes Prometheus Operator manifests (PodMonitor, PrometheusRule) into the
// operator's own Go API types, strictly: an unknown or misspelled field, a field in the wrong
// case or a duplicated key fails, as the Kubernetes API server's strict field validation would
// fail it. It then checks what the CRD schemas and Prometheus would reject later: durations,
// rule shapes, label and metric names, the pod selector, and each scrape endpoint's port and
// path.
//
//	manifest-check FILE...
//
// Each file may hold several YAML documents. It prints one line per object and exits 0 when
// every object passes, 1 when one fails, 2 on a usage error.
package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	k8sjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: manifest-check FILE...")
		os.Exit(2)
	}
	failed := false
	for _, path := range os.Args[1:] {
		if !checkFile(path, os.Stdout) {
			failed = true
		}
	}
	if failed {
		os.Exit(1)
	}
}

// checkFile checks every document of one file, printing a line per object; false if any fails.
func checkFile(path string, out io.Writer) bool {
	f, err := os.Open(path)
	if err != nil {
		fmt.Fprintf(out, "FAIL %s: %v\n", path, err)
		return false
	}
	defer f.Close()
	reader := utilyaml.NewYAMLReader(bufio.NewReader(f))
	ok := true
	objects := 0
	for doc := 1; ; doc++ {
		data, err := reader.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			fmt.Fprintf(out, "FAIL %s: document %d: %v\n", path, doc, err)
			return false
		}
		if strings.TrimSpace(stripComments(string(data))) == "" {
			continue
		}
		objects++
		name, summary, problems := checkDocument(data)
		where := fmt.Sprintf("%s: document %d (%s)", path, doc, name)
		if len(problems) == 0 {
			fmt.Fprintf(out, "ok   %s: %s\n", where, summary)
			continue
		}
		ok = false
		for _, p := range problems {
			fmt.Fprintf(out, "FAIL %s: %s\n", where, p)
		}
	}
	if objects == 0 {
		fmt.Fprintf(out, "FAIL %s: no object in the file\n", path)
		return false
	}
	return ok
}

func stripComments(doc string) string {
	var kept []string
	for _, line := range strings.Split(doc, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(line), "#") {
			kept = append(kept, line)
		}
	}
	return strings.Join(kept, "\n")
}

// checkDocument decodes one YAML document by its kind; it returns the object's kind/name, a
// one-line summary, and every problem found.
func checkDocument(data []byte) (name string, summary string, problems []string) {
	// YAMLToJSONStrict rejects duplicate keys; the JSON then goes through the API machinery's
	// case-sensitive decoder (encoding/json would take `podmetricsendpoints` for
	// `podMetricsEndpoints`).
	js, err := yaml.YAMLToJSONStrict(data)
	if err != nil {
		return "?", "", []string{fmt.Sprintf("not valid YAML: %v", err)}
	}
	var meta metav1.TypeMeta
	if err := k8sjson.UnmarshalCaseSensitivePreserveInts(js, &meta); err != nil {
		return "?", "", []string{fmt.Sprintf("not an object: %v", err)}
	}
	if meta.APIVersion != monitoringv1.SchemeGroupVersion.String() {
		return meta.Kind, "", []string{fmt.Sprintf("apiVersion %q, expected %q",
			meta.APIVersion, monitoringv1.SchemeGroupVersion.String())}
	}
	switch meta.Kind {
	case monitoringv1.PodMonitorsKind:
		var pm monitoringv1.PodMonitor
		if problems := decodeStrict(js, &pm); len(problems) > 0 {
			return meta.Kind, "", problems
		}
		summary, problems := checkPodMonitor(&pm)
		return meta.Kind + "/" + pm.Name, summary, problems
	case monitoringv1.PrometheusRuleKind:
		var pr monitoringv1.PrometheusRule
		if problems := decodeStrict(js, &pr); len(problems) > 0 {
			return meta.Kind, "", problems
		}
		summary, problems := checkPrometheusRule(&pr)
		return meta.Kind + "/" + pr.Name, summary, problems
	default:
		return meta.Kind, "", []string{fmt.Sprintf("kind %q, expected %s or %s", meta.Kind,
			monitoringv1.PodMonitorsKind, monitoringv1.PrometheusRuleKind)}
	}
}

// decodeStrict is the API server's strict decoding: unknown and duplicate fields are errors.
func decodeStrict(js []byte, into any) []string {
	strict, err := k8sjson.UnmarshalStrict(js, into,
		k8sjson.DisallowUnknownFields, k8sjson.DisallowDuplicateFields)
	if err != nil {
		return []string{fmt.Sprintf("does not decode: %v", err)}
	}
	var problems []string
	for _, e := range strict {
		problems = append(problems, "strict decoding: "+e.Error())
	}
	return problems
}

// checkMetadata checks the object's name and labels as the API server validates them.
func checkMetadata(m *metav1.ObjectMeta) []string {
	var problems []string
	if m.Name == "" {
		problems = append(problems, "metadata.name is empty")
	}
	for _, msg := range validation.IsDNS1123Subdomain(m.Name) {
		problems = append(problems, fmt.Sprintf("metadata.name %q: %s", m.Name, msg))
	}
	for k, v := range m.Labels {
		for _, msg := range validation.IsQualifiedName(k) {
			problems = append(problems, fmt.Sprintf("metadata.labels key %q: %s", k, msg))
		}
		for _, msg := range validation.IsValidLabelValue(v) {
			problems = append(problems, fmt.Sprintf("metadata.labels[%q] %q: %s", k, v, msg))
		}
	}
	return problems
}
