from conftest import run_cli


def test_init_then_check_is_clean(tmp_path, cli):
    root = tmp_path / "v"
    root.mkdir()
    result = cli(root, "init")
    assert result.exit_code == 0, result.output
    assert (root / "vaultcrm.yaml").is_file()
    assert (root / "服务追踪表.md").is_file()
    assert "已创建 vaultcrm.yaml" in result.stdout
    again = cli(root, "init")
    assert "已存在，未改动 vaultcrm.yaml" in again.stdout
    check = cli(root, "check")
    assert check.exit_code == 0, check.output
    assert "错误 0" in check.stdout


def test_subprocess_bad_option_is_usage_error(tmp_path):
    proc = run_cli("--vault", str(tmp_path), "check", "--format", "xml")
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
