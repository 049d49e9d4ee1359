package kubetest

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// The binaries a living cluster needs in the assets directory (see hack/k8s-tools/build.sh).
var assetFiles = []string{"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok", "kwok-stages.yaml"}

// FakeNodes is the number of kwok nodes every cluster gets (kwok-node-0, kwok-node-1, ...).
const FakeNodes = 2

// FakeContainerLog is what every container's log says (kwok serves it for `kubectl logs`).
var FakeContainerLog = []string{"hello from a kwok fake container", "a line on stderr"}

// cluster is a living test cluster: etcd, kube-apiserver, kube-controller-manager,
// kube-scheduler and kwok as plain processes on loopback.
type cluster struct {
	dir   string
	procs []*Process
	token string
	ca    []byte
	host  string
}

// startCluster starts a cluster from the binaries in assets, in a new directory, and waits
// until it really works: nodes Ready and the default ServiceAccount created by the controllers.
func startCluster(ctx context.Context, assets string) (c *cluster, err error) {
	for _, f := range assetFiles {
		if _, err := os.Stat(filepath.Join(assets, f)); err != nil {
			return nil, fmt.Errorf("%s is not a living-cluster assets directory (run `make test-assets`): %w", assets, err)
		}
	}
	dir, err := os.MkdirTemp("", "kubetest-")
	if err != nil {
		return nil, err
	}
	c = &cluster{dir: dir}
	defer func() {
		if err != nil {
			c.stop()
		}
	}()
	certs := filepath.Join(dir, "certs")
	if err := os.MkdirAll(certs, 0o700); err != nil {
		return nil, err
	}
	if err := writeServiceAccountKey(certs); err != nil {
		return nil, err
	}
	c.token = randomHex(16)
	kcmToken, schedToken := randomHex(16), randomHex(16)
	tokens := fmt.Sprintf("%s,admin,admin-uid,\"system:masters\"\n%s,system:kube-controller-manager,kcm-uid\n%s,system:kube-scheduler,sched-uid\n",
		c.token, kcmToken, schedToken)
	if err := os.WriteFile(filepath.Join(certs, "tokens.csv"), []byte(tokens), 0o600); err != nil {
		return nil, err
	}
	ports, err := freePorts(6)
	if err != nil {
		return nil, err
	}
	etcdPort, etcdPeer, apiPort, kcmPort, schedPort, kwokPort := ports[0], ports[1], ports[2], ports[3], ports[4], ports[5]
	bin := func(name string) string { return filepath.Join(assets, name) }

	etcdURL := "http://127.0.0.1:" + strconv.Itoa(etcdPort)
	peerURL := "http://127.0.0.1:" + strconv.Itoa(etcdPeer)
	etcd, err := c.run("etcd", bin("etcd"), "--name=test", "--data-dir="+filepath.Join(dir, "etcd-data"),
		"--listen-client-urls="+etcdURL, "--advertise-client-urls="+etcdURL,
		"--listen-peer-urls="+peerURL, "--initial-advertise-peer-urls="+peerURL,
		"--initial-cluster=test="+peerURL, "--unsafe-no-fsync", "--log-level=warn")
	if err != nil {
		return nil, err
	}
	if err := waitFor(ctx, etcd, func() bool { return httpOK(etcdURL+"/health", "") }); err != nil {
		return nil, err
	}

	// No --kubelet-certificate-authority: the apiserver then accepts kwok's self-signed
	// serving certificate when it proxies `logs` to the fake node (its InternalIP is 127.0.0.1).
	c.host = "https://127.0.0.1:" + strconv.Itoa(apiPort)
	api, err := c.run("kube-apiserver", bin("kube-apiserver"),
		"--etcd-servers="+etcdURL, "--bind-address=127.0.0.1", "--advertise-address=127.0.0.1",
		"--secure-port="+strconv.Itoa(apiPort), "--cert-dir="+certs,
		"--token-auth-file="+filepath.Join(certs, "tokens.csv"), "--authorization-mode=RBAC",
		"--service-account-issuer=https://kubernetes.default.svc",
		"--service-account-key-file="+filepath.Join(certs, "sa.pub"),
		"--service-account-signing-key-file="+filepath.Join(certs, "sa.key"),
		"--service-cluster-ip-range=10.0.0.0/16", "--allow-privileged=true",
		"--endpoint-reconciler-type=none", "--kubelet-preferred-address-types=InternalIP")
	if err != nil {
		return nil, err
	}
	if err := waitFor(ctx, api, func() bool { return httpOK(c.host+"/readyz", c.token) }); err != nil {
		return nil, err
	}
	// The self-generated apiserver.crt is a bundle [serving certificate, CA]; clients and the
	// controller-manager trust the CA alone.
	if c.ca, err = caFromBundle(filepath.Join(certs, "apiserver.crt")); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(certs, "ca.crt"), c.ca, 0o600); err != nil {
		return nil, err
	}
	admin := filepath.Join(dir, "kubeconfig")
	if err := c.writeKubeconfig(admin, "admin", c.token); err != nil {
		return nil, err
	}
	schedConfig := filepath.Join(dir, "scheduler.kubeconfig")
	if err := c.writeKubeconfig(schedConfig, "system:kube-scheduler", schedToken); err != nil {
		return nil, err
	}

	// node-ipam stays off (the fake nodes bring their own pod CIDRs); no cloud provider.
	kcm, err := c.run("kube-controller-manager", bin("kube-controller-manager"),
		"--kubeconfig="+admin, "--bind-address=127.0.0.1", "--secure-port="+strconv.Itoa(kcmPort),
		"--leader-elect=false", "--use-service-account-credentials=false",
		"--service-account-private-key-file="+filepath.Join(certs, "sa.key"),
		"--root-ca-file="+filepath.Join(certs, "ca.crt"),
		"--service-cluster-ip-range=10.0.0.0/16", "--controllers=*,-node-ipam-controller")
	if err != nil {
		return nil, err
	}
	sched, err := c.run("kube-scheduler", bin("kube-scheduler"),
		"--kubeconfig="+schedConfig, "--bind-address=127.0.0.1", "--secure-port="+strconv.Itoa(schedPort),
		"--leader-elect=false")
	if err != nil {
		return nil, err
	}
	kwokConfig, err := c.kwokConfig(bin("kwok-stages.yaml"))
	if err != nil {
		return nil, err
	}
	kwokAddr := "127.0.0.1:" + strconv.Itoa(kwokPort)
	kwok, err := c.run("kwok", bin("kwok"), "--config="+kwokConfig, "--kubeconfig="+admin,
		"--manage-all-nodes=false", "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
		"--node-ip=127.0.0.1", "--node-port="+strconv.Itoa(kwokPort), "--server-address="+kwokAddr,
		"--node-lease-duration-seconds=40", "--cidr=10.240.0.0/16")
	if err != nil {
		return nil, err
	}
	if err := waitFor(ctx, kcm, func() bool { return httpOK("https://127.0.0.1:"+strconv.Itoa(kcmPort)+"/healthz", "") }); err != nil {
		return nil, err
	}
	if err := waitFor(ctx, sched, func() bool { return httpOK("https://127.0.0.1:"+strconv.Itoa(schedPort)+"/readyz", "") }); err != nil {
		return nil, err
	}
	if err := waitFor(ctx, kwok, func() bool { return httpOK("http://"+kwokAddr+"/healthz", "") }); err != nil {
		return nil, err
	}

	cfg, err := clientcmd.BuildConfigFromFlags("", admin)
	if err != nil {
		return nil, err
	}
	kc, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	for i := range FakeNodes {
		if _, err := kc.CoreV1().Nodes().Create(ctx, fakeNode(i), metav1.CreateOptions{}); err != nil {
			return nil, fmt.Errorf("create fake node %d: %w", i, err)
		}
	}
	if err := waitFor(ctx, kwok, func() bool { return nodesReady(ctx, kc) }); err != nil {
		return nil, fmt.Errorf("fake nodes not Ready: %w", err)
	}
	// The controller-manager answers /healthz before its controllers run; the default
	// ServiceAccount is the proof that they do.
	if err := waitFor(ctx, kcm, func() bool {
		_, err := kc.CoreV1().ServiceAccounts("default").Get(ctx, "default", metav1.GetOptions{})
		return err == nil
	}); err != nil {
		return nil, fmt.Errorf("controllers not running: %w", err)
	}
	return c, nil
}

// run starts a component with its output in DIR/NAME.log. The component dies with the test
// process, so a killed test run leaves no cluster behind.
func (c *cluster) run(name, path string, args ...string) (*Process, error) {
	p, err := StartProcess(c.dir, name, nil, syscall.SIGKILL, path, args...)
	if err != nil {
		return nil, err
	}
	c.procs = append(c.procs, p)
	return p, nil
}

// stop kills every component (a throw-away cluster needs no graceful shutdown) and removes
// the cluster's files; KUBETEST_KEEP=1 keeps them for a post-mortem.
func (c *cluster) stop() {
	for i := len(c.procs) - 1; i >= 0; i-- {
		p := c.procs[i]
		if p.Alive() {
			_ = syscall.Kill(-p.Cmd.Process.Pid, syscall.SIGKILL)
		}
	}
	for _, p := range c.procs {
		select {
		case <-p.Done():
		case <-time.After(10 * time.Second):
		}
	}
	if os.Getenv("KUBETEST_KEEP") == "" {
		_ = os.RemoveAll(c.dir)
	} else {
		fmt.Fprintf(os.Stderr, "kubetest: cluster files kept in %s\n", c.dir)
	}
}

// kwokConfig writes kwok's configuration: its default stages and a ClusterLogs object that
// serves FakeContainerLog for every container.
func (c *cluster) kwokConfig(stagesPath string) (string, error) {
	stages, err := os.ReadFile(stagesPath)
	if err != nil {
		return "", err
	}
	logPath := filepath.Join(c.dir, "fake-container.log")
	var logs bytes.Buffer
	for i, line := range FakeContainerLog {
		stream := "stdout"
		if i == len(FakeContainerLog)-1 {
			stream = "stderr"
		}
		fmt.Fprintf(&logs, "2024-01-01T00:00:%02d.000000000Z %s F %s\n", i, stream, line)
	}
	if err := os.WriteFile(logPath, logs.Bytes(), 0o644); err != nil {
		return "", err
	}
	cfg := string(stages) + fmt.Sprintf(`
---
apiVersion: kwok.x-k8s.io/v1alpha1
kind: ClusterLogs
metadata:
  name: all-pods
spec:
  logs:
  - logsFile: %s
`, logPath)
	path := filepath.Join(c.dir, "kwok.yaml")
	return path, os.WriteFile(path, []byte(cfg), 0o644)
}

func (c *cluster) writeKubeconfig(path, user, token string) error {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["test"] = &clientcmdapi.Cluster{Server: c.host, CertificateAuthorityData: c.ca}
	cfg.AuthInfos[user] = &clientcmdapi.AuthInfo{Token: token}
	cfg.Contexts["test"] = &clientcmdapi.Context{Cluster: "test", AuthInfo: user}
	cfg.CurrentContext = "test"
	return clientcmd.WriteToFile(*cfg, path)
}

// fakeNode is a kwok node with a pod CIDR of its own (kwok's shared pool hands out duplicate
// addresses) and no taints, so ordinary workloads schedule on it.
func fakeNode(i int) *corev1.Node {
	name := fmt.Sprintf("kwok-node-%d", i)
	cidr := fmt.Sprintf("10.244.%d.0/24", i)
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{
			Name:        name,
			Annotations: map[string]string{"kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0"},
			Labels: map[string]string{
				"kubernetes.io/arch": "amd64", "kubernetes.io/os": "linux", "kubernetes.io/hostname": name,
				"kubernetes.io/role": "agent", "node-role.kubernetes.io/agent": "", "type": "kwok",
			},
		},
		Spec: corev1.NodeSpec{PodCIDR: cidr, PodCIDRs: []string{cidr}},
	}
}

func nodesReady(ctx context.Context, kc kubernetes.Interface) bool {
	nodes, err := kc.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil || len(nodes.Items) < FakeNodes {
		return false
	}
	for _, n := range nodes.Items {
		ready := false
		for _, c := range n.Status.Conditions {
			if c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue {
				ready = true
			}
		}
		if !ready {
			return false
		}
	}
	return true
}

// waitFor polls ok until it holds, the context ends or the process dies.
func waitFor(ctx context.Context, p *Process, ok func() bool) error {
	err := wait.PollUntilContextCancel(ctx, 100*time.Millisecond, true, func(context.Context) (bool, error) {
		if ok() {
			return true, nil
		}
		if !p.Alive() {
			return false, fmt.Errorf("%s exited (%w); its log ends:\n%s", p.Name, p.Err(), p.Tail())
		}
		return false, nil
	})
	if wait.Interrupted(err) {
		return fmt.Errorf("%s not ready: %w; its log ends:\n%s", p.Name, err, p.Tail())
	}
	return err
}

var insecureClient = &http.Client{
	Timeout: 2 * time.Second,
	// Health probes of loopback components whose certificates are self-signed.
	Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}, //nolint:gosec // loopback test cluster
}

func httpOK(url, token string) bool {
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, url, nil)
	if err != nil {
		return false
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := insecureClient.Do(req)
	if err != nil {
		return false
	}
	_ = resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

func freePorts(n int) ([]int, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			_ = l.Close()
		}
	}()
	ports := make([]int, 0, n)
	for range n {
		l, err := (&net.ListenConfig{}).Listen(context.Background(), "tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

func writeServiceAccountKey(dir string) error {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return err
	}
	priv := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	pubDER, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return err
	}
	pub := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})
	if err := os.WriteFile(filepath.Join(dir, "sa.key"), priv, 0o600); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "sa.pub"), pub, 0o600)
}

// caFromBundle returns the first CA certificate of a PEM bundle.
func caFromBundle(path string) ([]byte, error) {
	rest, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			return nil, fmt.Errorf("%s holds no CA certificate", path)
		}
		cert, err := x509.ParseCertificate(b.Bytes)
		if err == nil && cert.IsCA {
			return pem.EncodeToMemory(b), nil
		}
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
