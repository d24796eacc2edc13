<#
.SYNOPSIS
    Installs (or removes) the govguard agent as a Windows service: docs/install-agents.md.

.DESCRIPTION
    Run from an elevated PowerShell (Windows 10/11, PowerShell 5.1 or later):

      .\install-agent.ps1 -Wheel govguard-VERSION-py3-none-any.whl `
          -PythonZip python-3.11.9-embed-amd64.zip -Wheelhouse .\wheels `
          -Controller https://govguard.ubnd.local:8443 -TokenFile token.txt
      .\install-agent.ps1 -Uninstall [-Purge]

    Each step runs only when needed; running the script again changes nothing that is right.
      1. A private Python in C:\Program Files\govguard-agent\python, from the Windows embeddable
         package (-PythonZip), with the agent and its dependencies installed from -Wheelhouse
         (no Internet needed: the wheels, pip's among them, are prepared on another computer).
      2. C:\ProgramData\govguard\agent.yaml (-Config FILE, else the existing one, else an empty
         config) and the state folder C:\ProgramData\govguard-agent (key, pinned CA, outbox).
         Both folders lose inherited permissions: only SYSTEM and Administrators may read them.
         Groups are named by SID (S-1-5-18, S-1-5-32-544) because Vietnamese Windows translates
         their names.
      3. Enrollment with -Controller and -TokenFile, unless the computer is enrolled already.
      4. The service "govguard-agent": LocalSystem, delayed automatic start, restarted by the
         Service Control Manager after a failure (30 s, 60 s, then 5 min; the count resets daily),
         started once the computer is enrolled.
    -Offline is for classified computers (docs/bundles.md): no enrollment over the network and no
    service (an existing one is removed); the officer enrolls and exports by USB.
    Exit status: 0 done, 1 a step failed, 2 wrong arguments.

    Why a private embeddable Python and not a virtual environment: a virtual environment's
    python.exe is a launcher that starts the real interpreter as a child process, and the
    Service Control Manager only talks to the process it started (error 1053). The embeddable
    interpreter is the process, changes nothing system-wide (no PATH, no file associations), and
    uninstalling is deleting its folder.
#>
[CmdletBinding(DefaultParameterSetName = 'Install')]
param(
    [Parameter(ParameterSetName = 'Install')] [string] $Wheel,
    [Parameter(ParameterSetName = 'Install')] [string] $PythonZip,
    [Parameter(ParameterSetName = 'Install')] [string] $Wheelhouse,
    [Parameter(ParameterSetName = 'Install')] [string] $Controller,
    [Parameter(ParameterSetName = 'Install')] [string] $TokenFile,
    [Parameter(ParameterSetName = 'Install')] [string] $Config,
    [Parameter(ParameterSetName = 'Install')] [switch] $NoStart,
    [Parameter(ParameterSetName = 'Install')] [switch] $Offline,
    [Parameter(ParameterSetName = 'Uninstall', Mandatory = $true)] [switch] $Uninstall,
    [Parameter(ParameterSetName = 'Uninstall')] [switch] $Purge,
    [string] $InstallDir = (Join-Path $env:ProgramFiles 'govguard-agent')
)

Set-StrictMode -Version 3.0
$ErrorActionPreference = 'Stop'

$ServiceName = 'govguard-agent'
$ConfigDir = Join-Path $env:ProgramData 'govguard'
$ConfigFile = Join-Path $ConfigDir 'agent.yaml'
$StateDir = Join-Path $env:ProgramData 'govguard-agent'
$PythonDir = Join-Path $InstallDir 'python'
$Python = Join-Path $PythonDir 'python.exe'
$Agent = Join-Path $PythonDir 'Scripts\govguard-agent.exe'
# The interpreter itself hosts the service (agent/platform/_windows/service.py).
$BinaryPath = "`"$Python`" -m agent.platform._windows.service"
$System = '*S-1-5-18'           # NT AUTHORITY\SYSTEM
$Administrators = '*S-1-5-32-544' # BUILTIN\Administrators

function Say([string] $Message) { Write-Output "install-agent: $Message" }
function Fail([string] $Message) {
    [Console]::Error.WriteLine("install-agent: error: $Message")
    exit 1
}
function Fail-Usage([string] $Message) {
    [Console]::Error.WriteLine("install-agent: error: $Message")
    [Console]::Error.WriteLine('install-agent: see Get-Help .\install-agent.ps1 -Full')
    exit 2
}
# Native commands do not throw: check their exit status.
function Invoke-Checked([string] $What, [scriptblock] $Command) {
    & $Command
    if ($LASTEXITCODE -ne 0) { Fail "$What failed (exit status $LASTEXITCODE)" }
}

# Only SYSTEM and Administrators, full control, inherited by everything inside: the folder's
# entries inherited from ProgramData (Users: read) are cut in the same icacls call that grants
# ours (no moment without protection), entries someone added by hand are removed, and the files
# already inside are reset to inherit exactly that.
function Protect-Folder([string] $Path) {
    if (-not (Test-Path -LiteralPath $Path)) { New-Item -ItemType Directory -Path $Path | Out-Null }
    Invoke-Checked "icacls $Path" {
        icacls.exe $Path /inheritance:r /grant:r "${System}:(OI)(CI)F" "${Administrators}:(OI)(CI)F" /Q
    }
    $others = (Get-Acl -LiteralPath $Path).Access |
        ForEach-Object { $_.IdentityReference.Translate([Security.Principal.SecurityIdentifier]).Value } |
        Where-Object { "*$_" -notin @($System, $Administrators) } | Sort-Object -Unique
    foreach ($sid in $others) {
        Invoke-Checked "icacls $Path (remove $sid)" { icacls.exe $Path /remove "*$sid" /Q }
    }
    Invoke-Checked "icacls $Path (owner)" { icacls.exe $Path /setowner $Administrators /Q }
    if (Get-ChildItem -LiteralPath $Path -Force) {
        Invoke-Checked "icacls $Path\*" { icacls.exe (Join-Path $Path '*') /reset /T /C /Q }
    }
}

$principal = New-Object Security.Principal.WindowsPrincipal(
    [Security.Principal.WindowsIdentity]::GetCurrent())
if (-not $principal.IsInRole([Security.Principal.WindowsBuiltInRole]::Administrator)) {
    Fail 'run from an elevated PowerShell (Run as administrator)'
}

$existing = Get-Service -Name $ServiceName -ErrorAction SilentlyContinue

if ($Uninstall) {
    if ($existing) {
        if ($existing.Status -ne 'Stopped') { Stop-Service -Name $ServiceName -Force }
        Invoke-Checked 'sc.exe delete' { sc.exe delete $ServiceName | Out-Null }
        Say "removed the service $ServiceName"
    }
    if (Test-Path -LiteralPath $InstallDir) {
        Remove-Item -LiteralPath $InstallDir -Recurse -Force
        Say "removed $InstallDir"
    }
    if ($Purge) {
        foreach ($path in @($StateDir, $ConfigDir)) {
            if (Test-Path -LiteralPath $path) { Remove-Item -LiteralPath $path -Recurse -Force }
        }
        Say "removed $StateDir and $ConfigDir (the controller still lists this computer: revoke it there)"
    } else {
        Say "kept $StateDir (key, outbox) and $ConfigFile; -Purge deletes them"
    }
    exit 0
}

# -- checks: every argument problem is reported before anything is changed ----------------------
if (-not $Wheel) { Fail-Usage 'give the agent to install: -Wheel FILE' }
if ($Wheel -notlike '*.whl') { Fail-Usage "-Wheel takes a .whl file: $Wheel" }
if (-not (Test-Path -LiteralPath $Wheel -PathType Leaf)) { Fail-Usage "-Wheel: no such file: $Wheel" }
if (-not $Wheelhouse -or -not (Test-Path -LiteralPath $Wheelhouse -PathType Container)) {
    Fail-Usage '-Wheelhouse: give the folder of dependency wheels (docs/install-agents.md)'
}
$pipWheel = Get-ChildItem -LiteralPath $Wheelhouse -Filter 'pip-*.whl' | Select-Object -First 1
if (-not $pipWheel) { Fail-Usage "-Wheelhouse: no pip-*.whl in $Wheelhouse" }
if (-not (Test-Path -LiteralPath $Python)) {
    if (-not $PythonZip) { Fail-Usage '-PythonZip: give the Windows embeddable Python package (python-3.11.x-embed-amd64.zip)' }
    if ((Split-Path -Leaf $PythonZip) -notmatch '^python-3\.(1[1-9])\.\d+-embed-(amd64|arm64)\.zip$') {
        Fail-Usage "-PythonZip takes python-3.11 (or later) -embed-amd64.zip: $PythonZip"
    }
    if (-not (Test-Path -LiteralPath $PythonZip -PathType Leaf)) { Fail-Usage "-PythonZip: no such file: $PythonZip" }
}
if ($Offline -and ($Controller -or $TokenFile)) {
    Fail-Usage '-Offline computers never contact a controller: leave out -Controller and -TokenFile'
}
if ($Controller -or $TokenFile) {
    if (-not $Controller) { Fail-Usage '-TokenFile goes with -Controller URL' }
    if (-not $TokenFile) { Fail-Usage '-Controller needs -TokenFile FILE (the token is never an argument)' }
    if ($Controller -notmatch '^https://[^\s/]+/?$') { Fail-Usage "-Controller must look like https://host:port, not: $Controller" }
    if (-not (Test-Path -LiteralPath $TokenFile -PathType Leaf)) { Fail-Usage "-TokenFile: no such file: $TokenFile" }
}
if ($Config -and -not (Test-Path -LiteralPath $Config -PathType Leaf)) { Fail-Usage "-Config: no such file: $Config" }
$Wheel = (Resolve-Path -LiteralPath $Wheel).Path
$Wheelhouse = (Resolve-Path -LiteralPath $Wheelhouse).Path

# -- 1. the private Python and the agent --------------------------------------------------------
$before = ''
if (Test-Path -LiteralPath $Agent) { $before = & $Agent --version 2>$null }
if ($existing -and $existing.Status -ne 'Stopped') {
    # Files in use cannot be replaced; the service is started again below.
    Stop-Service -Name $ServiceName -Force
}
if (-not (Test-Path -LiteralPath $Python)) {
    New-Item -ItemType Directory -Path $PythonDir -Force | Out-Null
    Expand-Archive -LiteralPath $PythonZip -DestinationPath $PythonDir -Force
    # The embeddable package ignores site-packages until its ._pth file imports site.
    $pth = Get-ChildItem -LiteralPath $PythonDir -Filter 'python3*._pth' | Select-Object -First 1
    if (-not $pth) { Fail "$PythonZip is not the embeddable package (no python3*._pth inside)" }
    $lines = Get-Content -LiteralPath $pth.FullName | Where-Object { $_ -notmatch '^\s*#?\s*import site' }
    Set-Content -LiteralPath $pth.FullName -Value ($lines + 'Lib\site-packages' + 'import site') -Encoding ascii
    Say "unpacked Python into $PythonDir"
}
Invoke-Checked 'installing the agent' {
    & $Python (Join-Path $pipWheel.FullName 'pip') install --quiet --disable-pip-version-check `
        --no-index --find-links $Wheelhouse --upgrade $Wheel
}
$after = & $Agent --version
if ($LASTEXITCODE -ne 0) { Fail "$Agent does not run after the install" }
if ($before -eq $after) { Say "$after already installed in $InstallDir" } else { Say "installed $after in $InstallDir" }

# -- 2. config and state, readable by SYSTEM and Administrators only ----------------------------
Protect-Folder $ConfigDir
Protect-Folder $StateDir
if ($Config) {
    Invoke-Checked "-Config: $Config is not a valid agent config (the line above says why)" {
        & $Agent once --config $Config --section identity --out NUL --lang en
    }
    Copy-Item -LiteralPath $Config -Destination $ConfigFile -Force
    Say "wrote $ConfigFile"
} elseif (-not (Test-Path -LiteralPath $ConfigFile)) {
    Set-Content -LiteralPath $ConfigFile -Encoding utf8 -Value @(
        '# govguard agent config (docs/agent.md, "The config file"). Empty: every option has its',
        '# default, and the controller sends intervals and probe targets once the agent is enrolled.',
        '{}')
    Say "wrote $ConfigFile (defaults)"
} else {
    Say "kept $ConfigFile"
}
# A copied file keeps no ACL of its own: make it inherit the folder's again.
Invoke-Checked "icacls $ConfigFile" { icacls.exe $ConfigFile /reset /Q }

# -- 3. enrollment ------------------------------------------------------------------------------
$enrolled = Test-Path -LiteralPath (Join-Path $StateDir 'identity.json')
if ($enrolled) {
    Say "already enrolled ($StateDir\identity.json); ``govguard-agent enroll --force`` enrolls again"
} elseif ($Offline) {
    Say "offline computer: enroll with ``& '$Agent' enroll --offline --out REQUEST`` (docs/bundles.md)"
} elseif ($Controller) {
    Invoke-Checked "enrollment with $Controller (the line above says why)" {
        & $Agent enroll --controller $Controller --token-file $TokenFile --state-dir $StateDir --lang en
    }
    $enrolled = $true
} else {
    Say "not enrolled: run ``& '$Agent' enroll --controller URL --token-file FILE``, then ``Start-Service $ServiceName``"
}

# -- 4. the service -----------------------------------------------------------------------------
if ($Offline) {
    # `govguard-agent run` refuses an offline identity: a service would only fail and restart.
    if ($existing) {
        Invoke-Checked 'sc.exe delete' { sc.exe delete $ServiceName | Out-Null }
        Say "removed the service $ServiceName: an offline computer runs no service"
    }
    Say 'done'
    exit 0
}
$serviceKey = "HKLM:\SYSTEM\CurrentControlSet\Services\$ServiceName"
if (-not $existing) {
    New-Service -Name $ServiceName -BinaryPathName $BinaryPath -DisplayName 'govguard agent' `
        -Description 'Collects inventory, connectivity and security posture and sends signed reports to the govguard controller.' `
        -StartupType Automatic | Out-Null
    Say "registered the service $ServiceName (LocalSystem)"
} elseif ((Get-ItemProperty -LiteralPath $serviceKey).ImagePath -ne $BinaryPath) {
    Set-ItemProperty -LiteralPath $serviceKey -Name ImagePath -Value $BinaryPath
    Say "updated the service's command line"
}
# The service writes why it started or stopped to the Application log under its own name;
# pywin32's servicemanager module holds the message texts those entries use.
Invoke-Checked 'registering the event log source' {
    & $Python -c "import servicemanager, win32evtlogutil; win32evtlogutil.AddSourceToRegistry('$ServiceName', servicemanager.__file__)"
}
Invoke-Checked 'sc.exe config' { sc.exe config $ServiceName start= delayed-auto obj= LocalSystem | Out-Null }
# Restart after 30 s, 60 s, then every 5 min; the failure count resets after a day without one.
Invoke-Checked 'sc.exe failure' {
    sc.exe failure $ServiceName reset= 86400 actions= restart/30000/restart/60000/restart/300000 | Out-Null
}
# Also when the service stops itself with an error, not only when the process dies.
Invoke-Checked 'sc.exe failureflag' { sc.exe failureflag $ServiceName 1 | Out-Null }

if ($enrolled -and -not $NoStart) {
    Start-Service -Name $ServiceName
    Say "started $ServiceName"
}
Say 'done'
exit 0
